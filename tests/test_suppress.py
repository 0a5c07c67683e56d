"""Suppression comments: parsing, source and graph findings, EXL002 for suppressions that suppress nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from exportlint.checks.suppression import UnusedSuppression
from exportlint.options import Options, PerFileIgnore
from exportlint.source import check_files
from exportlint.source.walker import source_rules
from exportlint.suppress import apply_suppressions, parse_comment


@pytest.mark.parametrize("comment, codes", [
    ("# exportlint: ignore[EXL101]", ("EXL101",)),
    ("#exportlint:ignore[exl101, EXL2]", ("EXL101", "EXL2")),
    ("# exportlint: ignore[EXL101,EXL201] -- needs opset 16", ("EXL101", "EXL201")),
    ("# exportlint: ignore", None),
    ("# noqa  # exportlint: ignore", None),
    ("# exportlint: ignored", False),
    ("# exportlint ignore[EXL101]", False),
])
def test_parse_comment(comment, codes):
    assert parse_comment(comment) == codes


def _source_run(tmp_path: Path, text: str, **options) -> list:
    path = tmp_path / "model.py"
    path.write_text(text)
    opts = Options(**options)
    return apply_suppressions(check_files([path], opts), opts, {str(path): None}, ran=source_rules(opts))


@pytest.mark.parametrize("kind", ["invalid", "valid"])
def test_unused_suppression_examples(tmp_path, kind):
    (example,) = getattr(UnusedSuppression, kind)
    findings = _source_run(tmp_path, example.source)
    lines = {f.location.line for f in findings if f.code == "EXL002"}
    _, expected = example.expected_lines("EXL002")
    assert lines == expected
    assert not [f for f in findings if f.code == "EXL501"]  # every real finding was suppressed


def test_codes_bare_strings_and_prefixes(tmp_path):
    findings = _source_run(tmp_path, '''\
import torch
import torch.nn.functional as F


def forward(x):
    a = F.hardswish(x)  # exportlint: ignore
    b = F.hardswish(x)  # exportlint: ignore[EXL5]
    c = F.hardswish(x)  # exportlint: ignore[EXL505]
    s = "F.hardswish(x)  # exportlint: ignore"
    d = torch.sigmoid(x)  # exportlint: ignore
    return a, b, c, s, d
''')
    got = [(f.location.line, f.code, f.message) for f in findings]
    assert [(line, code) for line, code, _ in got] == [(8, "EXL501"), (8, "EXL002"), (10, "EXL002")]
    assert got[1][2] == "unused suppression: no EXL505 finding on this line"
    assert got[2][2] == "unused suppression: no finding on this line"


def test_source_pass_does_not_report_graph_rule_codes(tmp_path):
    findings = _source_run(tmp_path, """\
import torch
import torch.nn.functional as F


def forward(x, grid):
    y = F.grid_sample(x, grid)  # exportlint: ignore[EXL101]
    return F.hardswish(y)  # exportlint: ignore[EXL501, EXL302, EXL505]
""")
    # EXL101 and EXL302 are graph rules: only a model check can tell whether they are used
    assert [(f.location.line, f.message) for f in findings] == [
        (7, "unused suppression: no EXL505 finding on this line")]


def test_unselected_codes_are_not_reported_and_exl002_can_be_ignored(tmp_path):
    text = "import torch\n\n\ndef f(x):\n    return torch.sigmoid(x)  # exportlint: ignore[EXL501, EXL999]\n"
    (f,) = _source_run(tmp_path, text, ignore=["EXL501"])
    assert f.message == "unused suppression: unknown code EXL999"
    assert _source_run(tmp_path, text, ignore=["EXL002"]) == []


def test_per_file_ignores(tmp_path):
    text = "import torch.nn.functional as F\n\n\ndef f(x):\n    return F.hardswish(x)\n"
    ignore = [PerFileIgnore("model.py", ("EXL501",), tmp_path)]
    assert _source_run(tmp_path, text, per_file_ignores=ignore) == []
    assert [f.code for f in _source_run(tmp_path, text)] == ["EXL501"]


GATES = '''\
import torch


class Gate(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # exportlint: ignore[EXL001]
            return torch.relu(x)  # exportlint: ignore[EXL001]
        return x * 2


class Plain(torch.nn.Module):
    def forward(self, x):
        return torch.relu(x)  # exportlint: ignore[EXL001]


def unrelated(x):
    return x  # exportlint: ignore[EXL001]
'''


@pytest.fixture(scope="module")
def gates(tmp_path_factory):
    """Graph findings of two models of one file: one whose capture fails (EXL001), one clean."""
    import torch

    from exportlint.capture.pytorch import capture_torch
    from exportlint.report import Report
    from exportlint.run import check_graph
    from exportlint.targets import parse_target

    path = tmp_path_factory.mktemp("gates") / "gates.py"
    path.write_text(GATES)
    namespace: dict = {}
    exec(compile(GATES, str(path), "exec"), namespace)
    options = Options(targets=[parse_target("onnx:17")], select=["EXL0"])
    reports = {}
    for name in ("Gate", "Plain"):
        report = Report()
        check_graph(capture_torch(namespace[name](), (torch.ones(2, 3),), options, name), options, report)
        reports[name] = report
    return reports


def test_graph_finding_is_suppressed_at_its_line(gates):
    findings = gates["Gate"].findings
    assert "EXL001" not in [f.code for f in findings]
    assert gates["Gate"].models[0].targets[0].exportable
    # line 7 is in the captured path (the fallback trace ran it) and suppressed nothing
    assert [(f.code, f.location.line) for f in findings] == [("EXL002", 7)]


def test_suppressions_outside_the_model_are_not_reported(gates):
    # Plain runs through line 13 only: its stale comment is reported, `unrelated`'s line 17 is not
    assert [(f.code, f.location.line, f.model) for f in gates["Plain"].findings] == [("EXL002", 13, "Plain")]


ACTIVATIONS = """\
import torch


class Act(torch.nn.Module):
    def forward(self, x):
        y = torch.nn.functional.hardswish(x)  # exportlint: ignore[EXL501]
        return y * 2  # exportlint: ignore[EXL505, EXL302]
"""


def test_graph_pass_does_not_report_source_rule_codes(tmp_path):
    import torch

    from exportlint.capture.pytorch import capture_torch
    from exportlint.report import Report
    from exportlint.run import check_graph
    from exportlint.targets import parse_target

    path = tmp_path / "act.py"
    path.write_text(ACTIVATIONS)
    namespace: dict = {}
    exec(compile(ACTIVATIONS, str(path), "exec"), namespace)
    options = Options(targets=[parse_target("onnx:17")])
    report = Report()
    check_graph(capture_torch(namespace["Act"](), (torch.ones(2, 3),), options, "Act"), options, report)
    # EXL501 and EXL505 are source rules: the graph pass could not have used them; EXL302 ran
    assert [(f.code, f.location.line, f.message) for f in report.findings] == [
        ("EXL002", 7, "unused suppression: no EXL302 finding on this line")]


SUPPRESSED_FIXABLE = """\
import torch
import torch.nn.functional as F


def forward(x):
    x = F.hardsigmoid(x)  # exportlint: ignore[EXL501]
    return torch.nn.SELU()(x)  # exportlint: ignore[EXL501]
"""


@pytest.mark.parametrize("how", ["comment", "per-file-ignores"])
def test_fix_leaves_suppressed_lines_alone_and_does_not_fail_on_them(tmp_path, how):
    """`fix` and `check` agree on what is suppressed: a suppressed line is not rewritten, and a
    suppressed finding without a fix (SELU) does not make `fix` exit 1."""
    from conftest import run_cli

    path = tmp_path / "model.py"
    text = SUPPRESSED_FIXABLE if how == "comment" else SUPPRESSED_FIXABLE.replace("  # exportlint: ignore[EXL501]", "")
    path.write_text(text)
    if how == "per-file-ignores":
        (tmp_path / "pyproject.toml").write_text('[tool.exportlint]\nper-file-ignores = {"model.py" = ["EXL501"]}\n')
    fixed = run_cli("fix", str(path), cwd=tmp_path)
    assert (fixed.returncode, fixed.stdout, fixed.stderr) == (0, "", "")
    assert path.read_text() == text
    checked = run_cli("check", str(path), cwd=tmp_path)
    assert checked.returncode == 0 and "EXL002" not in checked.stdout, checked.stdout


def test_fix_files_applies_suppressions_like_check(tmp_path):
    from exportlint.source import fix_files

    path = tmp_path / "model.py"
    path.write_text(SUPPRESSED_FIXABLE.replace("torch.nn.SELU()(x)  # exportlint: ignore[EXL501]", "F.hardsigmoid(x)"))
    report = fix_files([path], options=Options())
    assert [f.line for f in report.applied] == [7]  # the suppressed line 6 is not rewritten
    assert "x = F.hardsigmoid(x)  # exportlint: ignore[EXL501]" in path.read_text()
    assert report.remaining == []
