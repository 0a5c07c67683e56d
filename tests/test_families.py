"""Target families: the registry found by discovery, and the ExecuTorch and OpenVINO families against
their real libraries (a converting and a failing model each; the verdict agrees with the converter)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import pytest

from conftest import ROOT, check
from exportlint.family import Family, all_families
from exportlint.targets import all_targets, parse_target


def test_families_are_discovered_with_unique_names_and_complete_units():
    families = all_families()
    assert list(families)[:4] == ["onnx", "coreml", "tflite", "tensorrt"]
    assert {"executorch", "openvino"} <= set(families)
    for name, unit in families.items():
        assert issubclass(unit, Family) and unit.name == name
        assert unit.default in unit.versions and unit.paths and unit.docs and unit.title, name
        assert set(unit.delegates) <= set(unit.versions), name
        assert not unit.via or unit.via in families and set(unit.via_versions) == set(unit.versions), name


def test_every_target_round_trips_through_its_text():
    for target in all_targets():
        assert parse_target(str(target)) == target


def test_importing_the_families_imports_no_framework():
    import subprocess
    import sys

    code = ("import sys; from exportlint.family import all_families; all_families(); "
            "print([m for m in ('torch', 'executorch', 'openvino', 'coremltools', 'numpy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_a_second_onnx_consumer_would_not_share_tensorrt_opsets():
    """The hop into ONNX takes the opset from the final target's own unit (no shared cap table)."""
    from exportlint.tables import conversion_path

    assert conversion_path("aten", "tensorrt") == [("aten", "onnx", "torch->onnx"), ("onnx", "tensorrt", "onnx->tensorrt")]
    assert conversion_path("aten", "executorch") == conversion_path("aten", "openvino") == []
    assert parse_target("tensorrt:8.6").unit.hop_version("onnx", "8.6") == "17"


def test_tensorrt_is_judged_through_each_onnx_exporter():
    """The TorchScript exporter's path hops through its own table: at TensorRT 8.6's opset 17 it cannot
    export affine_grid (ONNX AffineGrid is opset 20); at 10 the export works and the parser lacks the op."""
    from exportlint.tables import conversion_path, support

    assert [p.name for p in parse_target("tensorrt:10").paths("aten")] == ["dynamo", "torchscript"]
    assert [h for _, _, h in conversion_path("torchscript", "tensorrt")] == ["torch->onnx", "onnx->tensorrt"]
    old, new = (support("aten::affine_grid_generator", t, "torchscript") for t in ("tensorrt:8.6", "tensorrt:10"))
    assert (old.status.value, old.hop, new.status.value, new.hop) == (
        "unsupported", "torch->onnx", "unsupported", "onnx->tensorrt")
    assert support("aten::grid_sampler", "tensorrt:8.6", "torchscript").status.value == "supported"


@pytest.mark.parametrize("name", ["aten-executorch", "aten-openvino"])
def test_new_tables_carry_provenance_and_probe_evidence(name):
    table = json.loads((resources.files("exportlint.ruledata") / "tables" / f"{name}.json").read_text())
    prov = table["provenance"]
    assert prov["libraries"]["torch"] == "2.13.0+cpu" and prov["probe_libraries"]
    assert prov["probes"]["run"] > 0
    statuses = {e["status"] for per_version in table["ops"].values() for e in per_version.values()}
    assert "supported" in statuses
    evidence = {e.get("evidence") for per_version in table["ops"].values() for e in per_version.values()}
    assert "probe" in evidence and evidence <= {"probe", "registry"}  # registry: claims no probe tested
    probes = json.loads((ROOT / "rules" / "probes" / f"{name}.json").read_text())
    assert table.get("partial", False) is bool(probes.get("remaining"))  # a budgeted run says so


# --- the real libraries ------------------------------------------------------------------------


def _conv():
    import torch

    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval(), (torch.randn(1, 3, 8, 8),)


def _custom():
    from exportlint.checks.operator_support import _custom_op

    model, inputs = _custom_op()
    return model.eval(), inputs


def _cumsum():
    import torch

    class Running(torch.nn.Module):
        def forward(self, x):
            return torch.cumsum(x.relu(), dim=1)

    return Running(), (torch.randn(2, 8),)


MODELS = {"conv": _conv, "custom": _custom, "cumsum": _cumsum}


@cache
def _graph(name: str):
    from conftest import capture_path  # noqa: F401 - keeps the capture helpers in one place
    from exportlint.capture.pytorch import capture_torch
    from exportlint.options import Options

    model, inputs = MODELS[name]()
    return capture_torch(model, inputs, Options(), name)


@cache
def _decision(name: str, target: str):
    import torch

    from exportlint.decide import Subject, decide

    model, inputs = MODELS[name]()
    program = torch.export.export(model, inputs)
    (decision,) = decide(Subject(model, inputs, program), [parse_target(target)], "confirm", cache=False)
    return decision


def _errors(name: str, target: str) -> list:
    return [f for f in check(_graph(name), [target], decide="static") if f.code == "EXL101" and f.blocking]


@pytest.mark.parametrize("target", ["executorch:xnnpack", "executorch:portable", "openvino:cpu"])
def test_a_converting_model_converts_and_runs_and_the_tables_agree(target):
    pytest.importorskip(parse_target(target).family)
    decision = _decision("conv", target)
    assert decision.converted is True, decision.detail
    assert not _errors("conv", target)


@pytest.mark.parametrize("target", ["executorch:xnnpack", "openvino:cpu"])
def test_a_custom_op_fails_the_real_converter_and_the_tables_say_so(target):
    pytest.importorskip(parse_target(target).family)
    decision = _decision("custom", target)
    assert decision.converted is False, decision.detail
    assert _errors("custom", target)


def test_both_executorch_targets_lower_a_data_dependent_model_in_one_process():
    """The converter child lowers for XNNPACK, then for the portable kernels: each from a fresh export (a second
    lowering of one program fails on its unbacked sizes)."""
    pytest.importorskip("executorch")
    import torch

    from exportlint.decide import Subject, decide

    class MaskSelect(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.score = torch.nn.Linear(8, 1)

        def forward(self, x):
            return x[torch.sigmoid(self.score(x)).squeeze(-1) > 0.5].sum(0)

    torch.manual_seed(0)
    model, inputs = MaskSelect().eval(), (torch.rand(6, 8),)
    targets = [parse_target("executorch:xnnpack"), parse_target("executorch:portable")]
    decisions = decide(Subject(model, inputs, torch.export.export(model, inputs)), targets, "confirm", cache=False)
    assert [d.converted for d in decisions] == [True, True], [d.detail for d in decisions]


def test_an_op_xnnpack_does_not_take_falls_back_with_a_warning_and_a_summary():
    pytest.importorskip("executorch")
    decision = _decision("cumsum", "executorch:xnnpack")
    assert decision.converted is True and "portable kernels: aten.cumsum.default" in decision.detail
    findings = [f for f in check(_graph("cumsum"), ["executorch:xnnpack"], decide="static") if f.code == "EXL101"]
    fallback = [f for f in findings if f.severity.value == "warning" and f.op == "aten.cumsum.default"]
    assert fallback and "portable kernels" in fallback[0].message
    (summary,) = [f for f in findings if "delegation summary" in f.message]
    assert "1 of 2 op nodes (50%) delegated in 1 partition(s); 1 fall back (aten.cumsum.default x1)" in summary.message


SCHEMA = ROOT / "rules" / "table.schema.json"


@pytest.mark.parametrize("path", sorted((ROOT / "rules" / "tables").glob("*.json")), ids=lambda p: p.stem)
def test_every_table_validates_against_the_one_schema(path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(json.loads(path.read_text()))


def test_the_schema_rejects_undocumented_keys_and_statuses():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    table = {"schema_version": 1, "dialect": "aten", "family": "openvino", "versions": ["cpu"],
             "provenance": {"generator": "g", "generator_version": "1", "generated": "2026-12-01",
                            "libraries": {}, "sources": []},
             "ops": {"aten.relu.default": {"*": {"status": "supported", "evidence": "probe"}}}}
    assert validator.is_valid(table)
    for bad in ({"status": "maybe"}, {"status": "supported", "mystery": 1},
                {"status": "unverified", "variants": [{"match": {"argz": {}}, "status": "supported"}]}):
        assert not validator.is_valid({**table, "ops": {"aten.relu.default": {"*": bad}}}), bad
