"""Progress: drawn on stderr when it is a terminal (a pty here), never on stdout; --quiet silences it;
the text format's colours follow NO_COLOR / FORCE_COLOR."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from conftest import EXAMPLES, ROOT

MODEL = [str(EXAMPLES / "shape_head.py:build"), "--static", "-t", "onnx:18", "-t", "coreml:iOS16"]
ENV = {**{k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")},
       "COLUMNS": "200", "PYTHONPATH": str(ROOT)}


def _run(argv: list[str], tty: bool, env: dict | None = None) -> tuple[bytes, bytes]:
    """(stdout, stderr) of `exportlint ARGV`, stderr on a pseudo-terminal when `tty`."""
    cmd = [sys.executable, "-m", "exportlint", *argv]
    if not tty:
        done = subprocess.run(cmd, capture_output=True, env=env or ENV, cwd=ROOT, timeout=300)
        return done.stdout, done.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, env=env or ENV, cwd=ROOT)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    out = proc.stdout.read()
    proc.wait(timeout=300)
    return out, err


def test_progress_on_a_terminal_and_stdout_unchanged():
    piped_out, piped_err = _run(["check", *MODEL], tty=False)
    tty_out, tty_err = _run(["check", *MODEL], tty=True)
    assert tty_out == piped_out and b"== " in tty_out
    assert piped_err == b""
    shown = tty_err.decode(errors="replace")
    for step in ("model ", "capturing with torch.export(non-strict)",
                 "fake-tensor passes at the example and doubled input sizes", "capturing with torch.jit.trace", "rules"):
        assert step in shown, step
    _, quiet_err = _run(["check", *MODEL, "--quiet", "--no-recapture"], tty=True)
    assert quiet_err == b""


def test_text_colours_follow_no_color_and_force_color(tmp_path):
    (tmp_path / "net.py").write_text("import torch\n\n\ndef f(x):\n    return x.double()\n")
    argv = ["check", str(tmp_path / "net.py")]
    plain, _ = _run(argv, tty=False)
    forced, _ = _run(argv, tty=False, env={**ENV, "FORCE_COLOR": "1"})
    refused, _ = _run(argv, tty=False, env={**ENV, "FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert b"\x1b[" not in plain and b"\x1b[" in forced and refused == plain
    assert plain.strip(), "the file should have a source finding"
