"""pytest plugin (entry point `pytest11`): `assert_exportable` and the `exportlint` fixture.

    from exportlint.pytest_plugin import assert_exportable

    def test_model_exports():
        assert_exportable(MyNet().eval(), (torch.randn(1, 3, 224, 224),), targets=["onnx:17", "coreml:iOS16"])
"""

from __future__ import annotations

from typing import Any, Sequence

import pytest


class NotExportable(AssertionError):
    """Raised by `assert_exportable`: the message lists each blocking finding."""


def assert_exportable(model: Any, example_inputs: tuple, targets: Sequence[str] = ("onnx:18",),
                      ignore: Sequence[str] = (), name: str | None = None):
    """Fail with every blocking finding (`path:line:col: CODE [target] message`) unless `model`
    exports to all `targets`. Returns the report for further assertions."""
    from exportlint.capture.pytorch import capture_torch
    from exportlint.config import Options
    from exportlint.report import Report
    from exportlint.report.text import finding_line
    from exportlint.run import check_graph
    from exportlint.targets import parse_target

    options = Options(targets=[parse_target(t) for t in targets], ignore=list(ignore))
    name = name or type(model).__name__
    report = Report()
    check_graph(capture_torch(model, tuple(example_inputs), options, name), options, report)
    if report.blocking:
        blocked = ", ".join(t.target for m in report.models for t in m.targets if not t.exportable)
        lines = [finding_line(f) for f in report.findings if f.severity.value == "error"]
        raise NotExportable(f"{name} does not export to {blocked}:\n" + "\n".join(lines))
    return report


@pytest.fixture
def exportlint_check():
    """The `assert_exportable` function, as a fixture."""
    return assert_exportable
