"""A corpus of bad inputs (issue 11): each is one line naming the input, never a traceback, never text
on stdout besides the report; an input that cannot be loaded is an EXL003 finding and the other inputs
of the run still report; exit 2 is for usage errors only. Most cases run in-process (no torch import);
those that need torch or TensorFlow run grouped in a few subprocesses."""

from __future__ import annotations

import json
import os
import pickle
import socket
import textwrap
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from conftest import run_cli
from exportlint.cli import main

# The good input mixed into every run: a source file with one EXL501 finding.
GOOD = "good.py"
GOOD_SOURCE = "import torch\nimport torch.nn.functional as F\n\ndef f(x):\n    return F.hardswish(x)\n"


@dataclass
class Case:
    """`make(tmp)` writes the bad input into `tmp` and returns the argv after `check` (GOOD is added
    to it, or lies in its directory); the run must name `names` in the message of a `code` finding,
    or be at that path (EXL500 names the file by its location)."""

    id: str
    make: Callable[[Path], list[str]]
    names: str
    code: str = "EXL003"
    extra: list[str] = field(default_factory=list)


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def _file(name: str, text: str | bytes) -> Callable[[Path], list[str]]:
    return lambda tmp: [str(_write(tmp / name, text).relative_to(tmp))]


def _in_dir(name: str, make_entry: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    """The bad entry `name` inside directory `src/` (walked), next to GOOD."""
    def make(tmp: Path) -> list[str]:
        (tmp / "src").mkdir()
        _write(tmp / "src" / GOOD, GOOD_SOURCE)
        make_entry(tmp / "src" / name)
        return ["src"]
    return make


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dangling(path: Path) -> None:
    path.symlink_to("does-not-exist.py")


def _self_loop(path: Path) -> None:
    path.symlink_to(path.name)


def _two_loop(path: Path) -> None:
    other = path.with_name("other_" + path.name)
    path.symlink_to(other.name)
    other.symlink_to(path.name)


def _socket(path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()


def _dir_named(path: Path) -> None:
    path.mkdir()


def _entry(name: str, make_entry: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    """The bad entry named on the command line."""
    def make(tmp: Path) -> list[str]:
        make_entry(tmp / name)
        return [name]
    return make


def _spec(source: str, attr: str = "build", name: str = "m.py") -> Callable[[Path], list[str]]:
    return lambda tmp: [f"{_write(tmp / name, textwrap.dedent(source)).name}:{attr}"]


def _nested(open_: str, close: str, depth: int) -> str:
    return "import torch\nx = " + open_ * depth + "1" + close * depth + "\n"


SPECIAL_FILES = [("fifo", _fifo, "a FIFO"), ("dangling", _dangling, "broken symlink"),
                 ("self-loop", _self_loop, "symlink loop"), ("two-loop", _two_loop, "symlink loop"),
                 ("socket", _socket, "a socket")]

CASES: list[Case] = []
# -- the source pass: files in a directory walk, and named on the command line
for kind, maker, what in SPECIAL_FILES:
    for name in ("x.py", ".#m.py", "tool.pyw"):
        CASES.append(Case(f"walk-{kind}-{name}", _in_dir(name, maker), f"src/{name}: {what}"))
    CASES.append(Case(f"named-{kind}", _entry("named.py", maker), f"named.py: {what}"))
CASES += [
    Case("walk-null-bytes", _in_dir("n.py", lambda p: _write(p, b"import torch\nx = 1\0\n")), "src/n.py",
         code="EXL500"),
    Case("walk-latin1", _in_dir("l.py", lambda p: _write(p, b"import torch\nx = '\xe9'\n")), "src/l.py",
         code="EXL500"),
    Case("parens-250", _file("p.py", _nested("(", ")", 250)), "p.py", code="EXL500"),
    Case("parens-5000-segfaults-libcst", _file("p.py", _nested("(", ")", 5000)), "p.py", code="EXL500"),
    Case("lists-5000", _file("p.py", _nested("[", "]", 5000)), "p.py", code="EXL500"),
    Case("unary-10000-segfaults-libcst", _file("u.py", "import torch\nx = " + "-" * 10000 + "1\n"), "u.py",
         code="EXL500"),
    Case("not-8000", _file("u.py", "import torch\nx = " + "not " * 8000 + "1\n"), "u.py", code="EXL500"),
    Case("indent-120", _file("i.py", "import torch\n" + "".join(" " * i + "if x:\n" for i in range(120))
                             + " " * 120 + "pass\n"), "i.py", code="EXL500"),
    Case("unclosed-paren", _file("s.py", "import torch\nx = (1,\n"), "s.py", code="EXL500"),
    Case("bad-def", _file("s.py", "import torch\ndef f(:\n    pass\n"), "s.py", code="EXL500"),
    Case("bad-indent", _file("s.py", "import torch\nif x:\npass\n"), "s.py", code="EXL500"),
    Case("tab-space-mix", _file("s.py", "import torch\nif x:\n\tpass\n        pass\n"), "s.py", code="EXL500"),
]
# -- model specs whose module or factory misbehaves (none of them reaches torch)
FACTORIES = {
    "raises": ("def build():\n    raise ValueError('broken on purpose')\n", "factory raised ValueError"),
    "raises-multiline": ("def build():\n    raise RuntimeError('one\\ntwo\\nthree')\n", "factory raised RuntimeError: one"),
    "raises-empty": ("def build():\n    raise KeyError\n", "factory raised KeyError"),
    "raises-recursion": ("def build():\n    raise RecursionError('deep')\n", "factory raised RecursionError"),
    "raises-memory": ("def build():\n    raise MemoryError('out of memory')\n", "factory raised MemoryError"),
    "needs-args": ("def build(size):\n    pass\n", "factory raised TypeError"),
    "import-missing": ("import package_that_is_not_installed\ndef build():\n    pass\n", "import failed: ModuleNotFoundError"),
    "import-syntax": ("def build(:\n    pass\n", "import failed: SyntaxError"),
    "import-name": ("undefined_name\ndef build():\n    pass\n", "import failed: NameError"),
    "import-zero": ("1 / 0\ndef build():\n    pass\n", "import failed: ZeroDivisionError"),
    "import-exit-0": ("import sys\nsys.exit(0)\n", "called sys.exit(0)"),
    "import-exit-3": ("import sys\nsys.exit(3)\n", "called sys.exit(3)"),
    "import-exit-msg": ("import sys\nsys.exit('bye')\n", "called sys.exit('bye')"),
    "import-keyboard": ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
    "import-generator-exit": ("raise GeneratorExit\n", "raised GeneratorExit"),
    "factory-exit-0": ("import sys\ndef build():\n    sys.exit(0)\n", "called sys.exit(0)"),
    "factory-exit-none": ("def build():\n    raise SystemExit\n", "called sys.exit(None)"),
    "factory-exit-2": ("import sys\ndef build():\n    sys.exit(2)\n", "called sys.exit(2)"),
    "factory-keyboard": ("def build():\n    raise KeyboardInterrupt\n", "KeyboardInterrupt"),
    "prints-then-raises": ("print('noise at import')\ndef build():\n    print('noise')\n    raise ValueError('x')\n",
                           "factory raised ValueError"),
    "writes-fd1-then-exits": ("import os, sys\ndef build():\n    os.write(1, b'fd noise\\n')\n    sys.exit(0)\n",
                              "called sys.exit(0)"),
    "returns-none": ("def build():\n    return None\n", "returned None"),
    "returns-str": ("def build():\n    return 'abc'\n", "returned a str ('abc')"),
    "returns-int": ("def build():\n    return 42\n", "returned an int (42)"),
    "returns-3-tuple": ("def build():\n    return 1, 2, 3\n", "returned a 3-tuple (int, int, int)"),
    "returns-1-tuple": ("def build():\n    return (1,)\n", "returned a 1-tuple (int)"),
    "returns-bad-inputs": ("def build():\n    return object(), 5\n", "returned (object, int)"),
    "no-attribute": ("x = 1\n", "has no attribute 'build'"),
    "not-callable": ("build = 3\n", "'build' is not callable"),
}
CASES += [Case(f"spec-{key}", _spec(source), "m.py", extra=[want])
          for key, (source, want) in FACTORIES.items()]
CASES += [
    Case("spec-module-missing", lambda tmp: ["no_such_module_xyz:build"], "no_such_module_xyz: import failed"),
    Case("spec-module-no-attr", lambda tmp: ["json:no_such_factory"], "json has no attribute 'no_such_factory'"),
    Case("spec-stdlib-needs-args", lambda tmp: ["json:dumps"], "json:dumps: factory raised TypeError"),
    Case("spec-null-bytes", lambda tmp: [_write(tmp / "n.py", b"x = 1\0\n").name + ":build"], "n.py: import failed"),
    Case("spec-latin1", lambda tmp: [_write(tmp / "l.py", b"x = '\xe9'\n").name + ":build"], "l.py: import failed"),
]
for kind, maker, what in SPECIAL_FILES:
    CASES.append(Case(f"spec-{kind}", lambda tmp, maker=maker: (maker(tmp / "f.py"), ["f.py:build"])[1],
                      f"f.py: {what}"))
CASES.append(Case("spec-directory", lambda tmp: ((tmp / "d.py").mkdir(), ["d.py:build"])[1], "d.py: a directory"))
# -- model files (no torch, no TensorFlow: refused before either is imported)
CASES += [
    Case("onnx-garbage", _file("m.onnx", os.urandom(64) + b"\xff" * 8), "m.onnx: not a valid ONNX"),
    Case("onnx-text", _file("m.onnx", "this is not protobuf at all\n" * 4), "m.onnx: not a valid ONNX"),
    Case("onnx-empty", _file("m.onnx", b""), "m.onnx: not a valid ONNX model (empty graph)"),
    Case("onnx-zip", lambda tmp: [_zip(tmp / "m.onnx")], "m.onnx: not a valid ONNX"),
    Case("keras-random", _file("random.keras", os.urandom(256)), "random.keras: not a Keras archive"),
    Case("keras-empty", _file("e.keras", b""), "e.keras: not a Keras archive"),
    Case("keras-truncated", lambda tmp: [_truncated_zip(tmp / "t.keras")], "t.keras: not a Keras archive"),
    Case("h5-garbage", _file("m.h5", b"not hdf5" * 8), "m.h5: not an HDF5 file"),
    Case("h5-empty", _file("e.h5", b""), "e.h5: not an HDF5 file"),
]
for kind, maker, what in SPECIAL_FILES:
    for suffix in (".onnx", ".keras"):
        CASES.append(Case(f"model-file-{kind}{suffix}", _entry(f"m{suffix}", maker), f"m{suffix}: {what}"))


def _zip(path: Path) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", "{}")
    return path.name


def _truncated_zip(path: Path) -> str:
    _zip(path)
    path.write_bytes(path.read_bytes()[:30])
    return path.name


class Pickled:
    """A pickle that, if ever unpickled, creates `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _pickle(name: str) -> Callable[[Path], list[str]]:
    def make(tmp: Path) -> list[str]:
        _write(tmp / name, pickle.dumps(Pickled(tmp / "UNPICKLED")))
        return [name]
    return make


# -- usage errors: exit 2, one line on stderr naming the input
USAGE = [
    (["nodir/"], "nodir/: no such file or directory"),
    (["missing.py:build"], "missing.py: no such file"),
    (["missing.onnx"], "missing.onnx: no such file"),
    (["missing.keras"], "missing.keras: no such file"),
    (["m.py:"], "model spec 'm.py:'"),
    ([":build"], "model spec ':build'"),
    (["m.py:1abc"], "model spec 'm.py:1abc'"),
    (["m.py:build", "--dynamic", "0:0=b:10..2"], "--dynamic '0:0=b:10..2': MIN..MAX"),
    (["m.py:build", "--dynamic", "0:0=b:0..0"], "--dynamic '0:0=b:0..0': MIN..MAX"),
    (["m.py:build", "--dynamic", "0:0:5..5"], "--dynamic '0:0:5..5': MIN..MAX"),
    (["m.py:build", "--dynamic", "0:0:..1"], "--dynamic '0:0:..1': MIN..MAX"),
    (["m.py:build", "--dynamic", "x:y"], "--dynamic 'x:y'"),
    (["m.py:build", "--dynamic", "0:0=1bad"], "--dynamic '0:0=1bad'"),
    (["m.py:build", "--input-dtype", "int64"], "--input-dtype needs --input-shape"),
    (["m.py:build", "--target", "onnx:99"], "unknown target 'onnx:99'"),
    (["m.py:build", "--target", "foo"], "unknown target 'foo'"),
    (["m.py:build", "--target", "coreml:iOS99"], "coreml:iOS99"),
    (["m.py:build", "--select", "EXL9"], "'EXL9' matches no rule"),
    (["m.py:build", "--select", "EXL-101"], "'EXL-101' is not a rule code or prefix"),
    (["m.py:build", "--ignore", "FOO1"], "'FOO1' is not a rule code or prefix"),
    (["m.py:build", "--mean", "0.5,0.5", "--std", "0.2"], "differ in length"),
    (["m.py:build", "--mean", "0.5"], "mean and std go together"),
    (["m.py:build", "--mean", "0.5", "--std", "0"], "std must not contain 0"),
    (["m.py:build", "--config", "."], "--config .: is a directory"),
    (["m.py:build", "--config", "missing.toml"], "--config missing.toml: no such file"),
]
CONFIGS = {
    "no-table": ("[project]\nname = 'x'\n", "no [tool.exportlint] table"),
    "not-toml": ("[tool.exportlint\n", "cannot read"),
    "unknown-key": ("[tool.exportlint]\ntarget = ['onnx:17']\n", "unknown key 'target'"),
    "targets-string": ("[tool.exportlint]\ntargets = 'onnx:17'\n", "targets must be a list of strings"),
    "bad-target": ("[tool.exportlint]\ntargets = ['onnx:99']\n", "unknown target 'onnx:99'"),
    "bad-select": ("[tool.exportlint]\nselect = ['EXL-1']\n", "is not a rule code or prefix"),
    "model-no-spec": ("[tool.exportlint]\n[[tool.exportlint.models]]\ninput-shapes = ['1,3']\n", "needs a 'spec'"),
    "model-bad-dynamic": ("[tool.exportlint]\n[[tool.exportlint.models]]\nspec = 'm.py:build'\ndynamic = ['0:0:9..3']\n",
                          "MIN..MAX"),
    "train-string": ("[tool.exportlint]\ntrain = 'yes'\n", "train must be a boolean"),
    "mean-empty": ("[tool.exportlint]\nmean = []\nstd = []\n", "a non-empty list of numbers"),
}
PICKLES = ["model.pt", "model.pth", "model.pkl", "model.bin", "model.ckpt"]


def _run(argv: list[str], cwd: Path, capfd, monkeypatch) -> tuple[int, str, str]:
    monkeypatch.chdir(cwd)
    rc = main(argv)
    out, err = capfd.readouterr()
    return rc, out, err


def _no_traceback(out: str, err: str) -> None:
    assert "Traceback" not in out + err and "internal error" not in err, err


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("fmt", ["json"])
def test_bad_input_is_a_finding_and_the_rest_reports(case, fmt, tmp_path, capfd, monkeypatch):
    argv = case.make(tmp_path)
    if "src" not in argv:
        _write(tmp_path / GOOD, GOOD_SOURCE)
        argv.append(GOOD)
    rc, out, err = _run(["check", *argv, "--format", fmt], tmp_path, capfd, monkeypatch)
    _no_traceback(out, err)
    doc = json.loads(out)  # stdout is the report and nothing else
    assert rc == 1, err
    bad = [f for f in doc["findings"] if f["code"] == case.code
           and (case.names in f["message"] or f["location"] and f["location"]["path"] == case.names)]
    assert bad, (case.names, [f["message"] for f in doc["findings"]], err)
    assert all("\n" not in f["message"] for f in bad) and all(w in bad[0]["message"] for w in case.extra)
    good = [f for f in doc["findings"] if f["code"] == "EXL501"]
    assert good and good[0]["location"]["path"].endswith(GOOD), "the good input did not report"
    assert not (tmp_path / "UNPICKLED").exists()


@pytest.mark.parametrize("args, message", USAGE, ids=[" ".join(a) for a, _ in USAGE])
def test_usage_error_is_one_line_exit_2(args, message, tmp_path, capfd, monkeypatch):
    _write(tmp_path / "m.py", "def build():\n    raise AssertionError('never called')\n")
    rc, out, err = _run(["check", *args], tmp_path, capfd, monkeypatch)
    _no_traceback(out, err)
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert message in err


@pytest.mark.parametrize("key", list(CONFIGS))
def test_bad_config_is_one_line_exit_2(key, tmp_path, capfd, monkeypatch):
    text, message = CONFIGS[key]
    _write(tmp_path / "cfg.toml", text)
    _write(tmp_path / GOOD, GOOD_SOURCE)
    rc, out, err = _run(["check", GOOD, "--config", "cfg.toml"], tmp_path, capfd, monkeypatch)
    _no_traceback(out, err)
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "cfg.toml" in err and message in err


@pytest.mark.parametrize("name", PICKLES)
def test_pickles_are_never_unpickled(name, tmp_path, capfd, monkeypatch):
    _pickle(name)(tmp_path)
    rc, out, err = _run(["check", name], tmp_path, capfd, monkeypatch)
    _no_traceback(out, err)
    assert rc == 2 and out == "" and f"{name}: not a model spec" in err and "never unpickles" in err
    assert not (tmp_path / "UNPICKLED").exists()


def test_corpus_size():
    assert len(CASES) + len(USAGE) + len(CONFIGS) + len(PICKLES) >= 100


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_every_format_is_complete_with_exit_zero(fmt, tmp_path, capfd, monkeypatch):
    """`--format sarif --exit-zero > f` gives a whole document holding the bad and the good input."""
    _in_dir("x.py", _fifo)(tmp_path)
    _write(tmp_path / "m.py", "def build():\n    raise ValueError('broken')\n")
    rc, out, err = _run(["check", "src", "m.py:build", "--format", fmt, "--exit-zero"], tmp_path, capfd, monkeypatch)
    _no_traceback(out, err)
    assert rc == 0
    if fmt == "sarif":
        results = json.loads(out)["runs"][0]["results"]
        assert {r["ruleId"] for r in results} == {"EXL003", "EXL501"}
        assert all(r["locations"] for r in results)
    elif fmt == "json":
        assert {f["code"] for f in json.loads(out)["findings"]} == {"EXL003", "EXL501"}
    assert "src/x.py" in out and "m.py" in out and "good.py" in out


def test_a_400_term_expression_is_checked(tmp_path, capfd, monkeypatch):
    """It raised RecursionError in the LibCST walk, which ended the run."""
    _write(tmp_path / "sum.py", GOOD_SOURCE + "y = 1" + " + 1" * 400 + "\n")
    rc, out, err = _run(["check", "sum.py", "--format", "json"], tmp_path, capfd, monkeypatch)
    _no_traceback(out, err)
    assert [(f["code"], f["location"]["path"]) for f in json.loads(out)["findings"]] == [("EXL501", "sum.py")]


def test_deep_nesting_never_reaches_libcst(tmp_path):
    """What would crash LibCST's native parser (rc 139) is refused before parsing: in a subprocess,
    so that a crash could not take the test session down."""
    _write(tmp_path / "src" / "deep.py", _nested("(", ")", 5000))
    _write(tmp_path / "src" / GOOD, GOOD_SOURCE)
    result = run_cli("check", str(tmp_path / "src"), "--format", "json")
    assert result.returncode == 1, result.stderr
    assert {f["code"] for f in json.loads(result.stdout)["findings"]} == {"EXL500", "EXL501"}


def test_skipped_directories_are_named(tmp_path, capfd, monkeypatch):
    for d in ("build", "dist", ".venv", "pkg/.cache"):
        _write(tmp_path / "src" / d / "m.py", GOOD_SOURCE)
    _write(tmp_path / "src" / GOOD, GOOD_SOURCE)
    rc, out, err = _run(["check", "src"], tmp_path, capfd, monkeypatch)
    assert rc == 1 and "src/good.py" in out and "build/m.py" not in out
    (line,) = [ln for ln in err.splitlines() if "not walked" in ln]
    for d in ("src/build/", "src/dist/", "src/.venv/", "src/pkg/.cache/"):
        assert d in line


@pytest.mark.parametrize("name, text", [
    ("script", "#!/usr/bin/env python3\nimport torch.nn.functional as F\nimport torch\n\ndef f(x):\n    return F.hardswish(x)\n"),
    ("tool.pyw", GOOD_SOURCE),
    ("stubs.pyi", "import torch\n"),
])
def test_precommit_files_are_source_files(name, text, tmp_path, capfd, monkeypatch):
    """pre-commit's `types: [python]` passes shebang scripts, `.pyw` and `.pyi` files: the source pass
    checks them (they were taken for model specs: exit 2)."""
    _write(tmp_path / name, text)
    rc, out, err = _run(["check", name], tmp_path, capfd, monkeypatch)
    _no_traceback(out, err)
    if name.endswith(".pyi"):
        assert rc == 0 and "no findings" in out
    else:
        assert rc == 1 and f"{name}:" in out and "EXL501" in out


def test_an_extensionless_file_without_shebang_is_not_source(tmp_path, capfd, monkeypatch):
    _write(tmp_path / "notes", "import torch\n")
    rc, out, err = _run(["check", "notes"], tmp_path, capfd, monkeypatch)
    assert rc == 2 and "notes: not a model spec" in err


def test_unreadable_file_in_walk(tmp_path, capfd, monkeypatch):
    """As root (who reads any file), the check runs with the effective uid of `nobody`."""
    _in_dir("secret.py", lambda p: (_write(p, GOOD_SOURCE), p.chmod(0)))(tmp_path)
    _run(["check", "src"], tmp_path, capfd, monkeypatch)  # imports what the run needs, as root
    root = os.geteuid() == 0
    if root:
        modes = {d: d.stat().st_mode for d in (tmp_path, tmp_path / "src", *tmp_path.parents[:3])}
        for d in modes:
            d.chmod(modes[d] | 0o755)
        os.seteuid(65534)
    try:
        rc, out, err = _run(["check", "src", "--format", "json"], tmp_path, capfd, monkeypatch)
    finally:
        if root:
            os.seteuid(0)
            for d, mode in modes.items():
                d.chmod(mode)
    messages = [f["message"] for f in json.loads(out)["findings"]]
    assert rc == 1 and "src/secret.py: cannot read: permission denied" in messages, (messages, err)


def test_fix_hook_takes_a_shebang_script(tmp_path, capfd, monkeypatch):
    """The `exportlint-fix` hook gets the same files: a shebang script is checked as source (it was
    taken for a model spec: exit 2)."""
    _write(tmp_path / "script", "#!/usr/bin/env python\n" + GOOD_SOURCE)
    rc, out, err = _run(["fix", "script", "--diff"], tmp_path, capfd, monkeypatch)
    _no_traceback(out, err)
    assert rc == 1 and out.startswith("script:6:12: EXL501")
