"""The pytest plugin, run by pytest's own `pytester` on real small models."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

MODELS = '''
import torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.relu(self.conv(x))


class Gate(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent branch: EXL001
            return torch.relu(x)
        return -x


class Warp(torch.nn.Module):
    def forward(self, x, grid):
        return torch.nn.functional.grid_sample(x, grid, align_corners=False)  # GridSample: opset 16


WARP_INPUTS = (torch.randn(1, 3, 8, 8), torch.rand(1, 8, 8, 2) * 2 - 1)
'''


@pytest.fixture
def project(pytester):
    pytester.makepyfile(models=MODELS)
    return pytester


def test_helper_marker_and_fixture_pass_and_fail(project):
    project.makepyfile(test_models='''
        import pytest
        import torch
        from exportlint.pytest_plugin import assert_exportable
        from models import Gate, Net, Warp, WARP_INPUTS

        def test_net_exports():
            report = assert_exportable(Net(), (torch.randn(1, 3, 16, 16),), targets=["onnx:17"])
            assert [m.model for m in report.models] == ["Net"]

        def test_gate_converts_through_torchscript_only():
            report = assert_exportable(Gate(), (torch.ones(2, 3),), targets=["onnx:17"])
            (target,) = report.models[0].targets
            assert target.exportable and not target.default_path_exportable

        def test_gate_default_path_demanded():
            assert_exportable(Gate(), (torch.ones(2, 3),), targets=["onnx:17"], require_default_path=True)

        @pytest.mark.exportable(targets=["onnx:13"])
        def test_warp_marker():
            return Warp(), WARP_INPUTS

        @pytest.mark.exportable(targets=["onnx:17"])
        def test_net_marker():
            return Net(), torch.randn(1, 3, 16, 16)

        @pytest.mark.exportable(targets=["onnx:17"], ignore=["EXL001"])
        def test_gate_fixture(exportlint_check):
            exportlint_check(Gate(), (torch.ones(2, 3),))

        @pytest.mark.exportable(targets=["onnx:17"])
        def test_forgot_to_return():
            pass
    ''')
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=3)
    written = (project.path / "models.py").read_text().splitlines()
    gate_line = next(i for i, l in enumerate(written, 1) if "if x.sum() > 0" in l)
    result.stdout.re_match_lines([
        r"E\s+exportlint.pytest_plugin.NotExportable: Gate does not export to onnx:17 \(1 blocking finding\):",
        rf"E\s+models.py:{gate_line}:\d+: EXL001 torch.export cannot capture this model .*",
        r"E\s+exportlint.pytest_plugin.NotExportable: test_warp_marker does not export to onnx:13 .*",
        r".*must return \(model, example_inputs\), got NoneType",
    ], consecutive=False)
    # the failure points at the user's test, not at the plugin's internals
    assert "pytest_plugin.py" not in "\n".join(l for l in result.outlines if l.startswith("exportlint/"))


def test_confirm_runs_the_real_converters_and_their_answer_is_the_verdict(project):
    project.makepyfile(test_confirm='''
        import torch
        from exportlint.pytest_plugin import assert_exportable
        from models import Net, Warp, WARP_INPUTS

        def test_confirmed():
            report = assert_exportable(Net(), (torch.randn(1, 3, 16, 16),), targets=["onnx:17", "tensorrt:10"])
            runs = {(c.target, c.path): (c.converted, c.by) for c in report.models[0].confirmations}
            assert runs == {("onnx:17", "dynamo"): (True, "converter"), ("onnx:17", "torchscript"): (True, "converter")}

        def test_converter_failure_fails():
            assert_exportable(Warp(), WARP_INPUTS, targets=["onnx:13"])
    ''')
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--exportlint-confirm")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*Warp does not export to onnx:13*",
        "*real converters:*",
        "*[[]onnx:13 torchscript] failed: *",
    ])


@pytest.mark.parametrize("kwargs, message", [
    ({"select": ["EXL-101"]}, "assert_exportable select 'EXL-101' is not a rule code or prefix"),
    ({"ignore": ["FOO1"]}, "assert_exportable ignore 'FOO1' is not a rule code or prefix"),
    ({"select": ["EXL9"]}, "assert_exportable select 'EXL9' matches no rule"),
    ({"targets": []}, "assert_exportable targets: no target given"),
])
def test_bad_codes_and_targets_are_rejected_as_on_the_command_line(kwargs, message):
    import torch

    from exportlint.errors import UsageError
    from exportlint.pytest_plugin import assert_exportable

    with pytest.raises(UsageError) as err:
        assert_exportable(torch.nn.ReLU(), (torch.ones(2),), **kwargs)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_lower_case_codes_select_as_on_the_command_line():
    import torch

    from exportlint.pytest_plugin import NotExportable, assert_exportable

    class Gate(torch.nn.Module):
        def forward(self, x):
            return torch.relu(x) if x.sum() > 0 else -x

    with pytest.raises(NotExportable, match="EXL001"):
        assert_exportable(Gate(), (torch.ones(2, 3),), select=["exl0"], require_default_path=True)


@pytest.mark.parametrize("how", ["conftest", "-p"])
def test_loading_the_plugin_by_module_name_too(project, how):
    """`pytest_plugins = ["exportlint.pytest_plugin"]` or `-p exportlint.pytest_plugin` besides the
    entry point: one plugin, no "Plugin already registered under a different name"."""
    if how == "conftest":
        project.makeconftest('pytest_plugins = ["exportlint.pytest_plugin"]')
    project.makepyfile(test_net='''
        import torch
        from exportlint.pytest_plugin import assert_exportable
        from models import Net

        def test_net():
            assert_exportable(Net(), (torch.randn(1, 3, 16, 16),))
    ''')
    args = ["-p", "exportlint.pytest_plugin"] if how == "-p" else []
    project.runpytest_subprocess("-p", "no:cacheprovider", *args).assert_outcomes(passed=1)


def test_failure_message_is_the_findings_only(project):
    """No torch logs (`DEBUG torch.__trace`) or graph dumps beside the findings of a failure."""
    project.makepyfile(test_gate='''
        import torch
        from exportlint.pytest_plugin import assert_exportable
        from models import Gate

        def test_gate():
            assert_exportable(Gate(), (torch.ones(2, 3),), require_default_path=True)
    ''')
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--log-level=DEBUG")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "Gate does not export to onnx:18" in out
    assert "Captured log" not in out and "Captured stdout" not in out and "Captured stderr" not in out, out


def test_caller_mode_is_kept_and_confirmations_are_in_the_report():
    import torch

    from exportlint.pytest_plugin import assert_exportable

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
    net.train()
    net[1].eval()  # a mixed model: each submodule's flag comes back
    report = assert_exportable(net, (torch.randn(1, 3, 8, 8),), targets=["onnx:17"], confirm=True)
    assert net.training and not net[1].training and net[2].training
    assert {(c.target, c.path, c.converted) for c in report.models[0].confirmations} == {
        ("onnx:17", "dynamo", True), ("onnx:17", "torchscript", True)}



def test_under_pytest_xdist_each_worker_checks_its_tests(project):
    pytest.importorskip("xdist")
    project.makepyprojecttoml('[tool.exportlint]\ndecide = "static"\n')  # the tables: no converter runs
    project.makepyfile(test_zoo='''
        import pytest
        import torch
        from models import Net, Warp, WARP_INPUTS

        @pytest.mark.parametrize("size", [8, 12, 16])
        @pytest.mark.exportable(targets=["onnx:17"])
        def test_net(size):
            return Net(), (torch.randn(1, 3, size, size),)

        @pytest.mark.exportable(targets=["onnx:15"])
        def test_warp():
            return Warp(), WARP_INPUTS
    ''')
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*created: 2/2 workers*", "*grid_sampler*onnx:15*"])
