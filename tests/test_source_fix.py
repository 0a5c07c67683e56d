"""Source fixes: golden before/after files, idempotence, comments kept, refusal, atomic writes.

Golden files live in tests/golden/: `NAME.before.py` is fixed into `NAME.after.py` (safe fixes) and
`NAME.unsafe.after.py` (with unsafe fixes). After an intended change, regenerate them with
`EXPORTLINT_UPDATE_GOLDEN=1 pytest tests/test_source_fix.py` and review the diff.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from exportlint.engine.rule import Applicability
from exportlint.source import check_files, fix_files

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("EXPORTLINT_UPDATE_GOLDEN") == "1"
BEFORE = sorted(GOLDEN.glob("*.before.py"))


def _fixed_copy(tmp_path: Path, before: Path, unsafe: bool) -> tuple[Path, object]:
    path = tmp_path / before.name.replace(".before", "")
    shutil.copyfile(before, path)
    return path, fix_files([path], unsafe=unsafe)


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("before", BEFORE, ids=[p.name for p in BEFORE])
def test_golden(tmp_path, before, unsafe):
    path, report = _fixed_copy(tmp_path, before, unsafe)
    golden = before.with_name(before.name.replace(".before", ".unsafe.after" if unsafe else ".after"))
    if UPDATE:
        golden.write_text(path.read_text())
    assert path.read_text() == golden.read_text(), f"{golden.name} differs; see the module docstring"
    applied = {fix.applicability for fix in report.applied}
    assert Applicability.SAFE in applied
    assert (Applicability.UNSAFE in applied) is unsafe


@pytest.mark.parametrize("before", BEFORE, ids=[p.name for p in BEFORE])
def test_second_run_changes_nothing(tmp_path, before):
    path, first = _fixed_copy(tmp_path, before, unsafe=True)
    assert first.changed
    text = path.read_bytes()
    second = fix_files([path], unsafe=True)
    assert not second.changed and not second.applied
    assert path.read_bytes() == text


def test_fixed_findings_are_gone_and_the_rest_remain(tmp_path):
    path, report = _fixed_copy(tmp_path, GOLDEN / "classifier.before.py", unsafe=True)
    after = check_files([path])
    assert not any(f.fixable for f in after)
    assert [(f.code, f.location.line) for f in report.remaining] == [
        (f.code, f.location.line) for f in after
    ]


def test_comments_and_formatting_are_kept(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "import torch  # the framework\n"
        "import torch.nn.functional as F\n"
        "\n\n"
        "def head(x):   # odd spacing stays\n"
        "    # pool everything\n"
        "    x = F.avg_pool2d(x, x.size()[2:])  # was: global pool\n"
        "    return x.view(x.size(0),  # batch\n"
        "                  -1)\n"
    )
    report = fix_files([path])
    text = path.read_text()
    assert "F.adaptive_avg_pool2d(x, 1)  # was: global pool" in text
    for comment in ("# the framework", "# odd spacing stays", "# pool everything", "# batch"):
        assert comment in text
    # the view's fix would drop the `# batch` comment, so it is not offered: the finding remains
    assert [f.location.line for f in report.remaining] == [8]
    assert report.remaining[0].fix is None


def test_unparsable_file_is_refused_and_left_byte_identical(tmp_path):
    path = tmp_path / "broken.py"
    data = b"import torch\r\nimport torch.nn.functional as F\r\ny = F.hardsigmoid(x\r\n\xef\xbb"
    path.write_bytes(data)
    mtime = path.stat().st_mtime_ns
    report = fix_files([path], unsafe=True)
    (refused,) = report.refused
    assert "left unchanged" in refused.refused and str(path) in refused.refused
    assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime
    assert [f.code for f in report.remaining] == ["EXL500"]


def test_diff_mode_writes_nothing(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import torch\nimport torch.nn.functional as F\ny = F.hardsigmoid(torch.ones(1))\n")
    before = path.read_bytes()
    report = fix_files([path], unsafe=True, diff=True)
    assert path.read_bytes() == before and not report.written
    assert "-y = F.hardsigmoid(torch.ones(1))\n+y = torch.clamp(torch.ones(1) + 3, 0, 6) / 6\n" in report.files[0].diff


def test_unsafe_fixes_need_the_flag(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import torch\nfrom torch import nn\ngate = nn.Hardsigmoid()\n")
    report = fix_files([path])
    assert not report.changed and [f.code for f in report.remaining] == ["EXL501"]
    assert fix_files([path], unsafe=True).changed
    assert path.read_text().endswith("gate = nn.Sigmoid()\n")


def test_write_is_atomic_and_keeps_mode_and_encoding(tmp_path):
    path = tmp_path / "m.py"
    path.write_bytes(
        "# -*- coding: latin-1 -*-\nimport torch\n# caf\xe9\ny = torch.ones(2, 8)\n"
        "z = y.view(y.size(0), -1)\n".encode("latin-1")
    )
    path.chmod(0o750)
    assert fix_files([path]).changed
    assert stat.S_IMODE(path.stat().st_mode) == 0o750
    assert path.read_bytes().decode("latin-1").endswith("# caf\xe9\ny = torch.ones(2, 8)\nz = torch.flatten(y, 1)\n")
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]  # no temporary file left behind


def test_flatten_without_import_torch_uses_the_method(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("from torch import nn\n\ndef f(x):\n    return x.reshape(x.shape[0], -1)\n")
    fix_files([path])
    assert path.read_text().endswith("    return x.flatten(1)\n")


@pytest.mark.parametrize(
    "code",
    [
        "y = x.view(y.size(0), -1)",  # the size is read from another tensor
        "y = x.view(x.size(1), -1)",  # not the batch dimension
        "y = F.avg_pool2d(x, x.size()[2:], stride=1)",  # other arguments
        "y = F.avg_pool2d(x, y.size()[2:])",  # another tensor's size
        "y = F.avg_pool2d(x, x.size()[1:])",
    ],
)
def test_near_misses_are_flagged_but_not_fixed(tmp_path, code):
    path = tmp_path / "m.py"
    path.write_text(f"import torch\nimport torch.nn.functional as F\n{code}\n")
    report = fix_files([path], unsafe=True)
    assert not report.changed
    assert [f.code for f in report.remaining] == ["EXL502"] and report.remaining[0].fix is None


def _load(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_safe_fixes_keep_the_numbers_and_unsafe_ones_change_them():
    """The golden classifier before and after fixing, same weights, two input sizes."""
    import torch

    before = _load(GOLDEN / "classifier.before.py").Classifier().eval()
    safe = _load(GOLDEN / "classifier.after.py").Classifier().eval()
    unsafe = _load(GOLDEN / "classifier.unsafe.after.py").Classifier().eval()
    safe.load_state_dict(before.state_dict())
    unsafe.load_state_dict(before.state_dict())
    torch.manual_seed(0)
    with torch.no_grad():
        for size in (8, 13):
            x = torch.randn(2, 3, size, size)
            expected = before(x)
            for got, want in zip(safe(x), expected):
                torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
            assert not torch.allclose(unsafe(x)[1], expected[1], atol=1e-3)


def test_text_report_marks_safe_fixes_only():
    """`[*]` (ruff's convention): what `exportlint fix` applies without --unsafe-fixes."""
    from exportlint.options import Options
    from exportlint.report import Report, render
    from exportlint.run import check_sources

    report = Report()
    check_sources([GOLDEN / "classifier.before.py"], Options(), report)
    *lines, total = render(report, "text").splitlines()
    marked = [f.fix is not None and f.fix.applicability is Applicability.SAFE for f in report.findings]
    assert [" [*] " in line for line in lines] == marked and marked.count(True) == 4
    assert any("nn.Hardsigmoid" in line and "[*]" not in line for line in lines)  # unsafe: not marked
    assert total.endswith("; 4 fixable with `exportlint fix` (marked [*]), 1 more with --unsafe-fixes")


FLATTEN = b"import torch\ny = torch.ones(2, 8)\nz = y.view(y.size(0), -1)\n"
FLATTENED = b"import torch\ny = torch.ones(2, 8)\nz = torch.flatten(y, 1)\n"


def test_fix_writes_through_symlinks_and_hard_links(tmp_path):
    real = tmp_path / "real.py"
    real.write_bytes(FLATTEN)
    (tmp_path / "link.py").symlink_to(real)
    os.link(real, tmp_path / "hard.py")
    inode = real.stat().st_ino
    assert fix_files([tmp_path / "link.py"]).changed
    assert (tmp_path / "link.py").is_symlink() and real.read_bytes() == FLATTENED
    assert real.stat().st_ino == inode and (tmp_path / "hard.py").read_bytes() == FLATTENED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard.py", "link.py", "real.py"]


def test_fix_refuses_a_read_only_file(tmp_path):
    path = tmp_path / "m.py"
    path.write_bytes(FLATTEN)
    path.chmod(0o444)
    report = fix_files([path])
    (refused,) = report.refused
    assert refused.refused == "read-only file; file left unchanged" and not report.changed
    assert path.read_bytes() == FLATTEN and stat.S_IMODE(path.stat().st_mode) == 0o444


def test_write_through_refuses_a_file_changed_since_it_was_read(tmp_path):
    from exportlint.source.fix import write_through

    path = tmp_path / "m.py"
    path.write_bytes(FLATTEN + b"# edited meanwhile\n")
    assert write_through(path, FLATTEN, FLATTENED) == "changed since it was read; file left unchanged"
    assert path.read_bytes() == FLATTEN + b"# edited meanwhile\n"
    assert write_through(path, FLATTEN + b"# edited meanwhile\n", FLATTENED) is None
    assert path.read_bytes() == FLATTENED


def test_cli_names_a_refused_file_in_one_line(tmp_path):
    from conftest import run_cli

    path = tmp_path / "m.py"
    path.write_bytes(FLATTEN)
    path.chmod(0o444)
    done = run_cli("fix", str(path), cwd=tmp_path)
    assert done.returncode == 1 and done.stderr == f"exportlint: refused {path}: read-only file; file left unchanged\n"
