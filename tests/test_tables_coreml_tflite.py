"""Core ML and TFLite tables: spot checks through the real converters, probe drift, provenance."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from exportlint.tables import Status, dtype_support, load_table, support
from exportlint.tables.probe.harness import ProbeRecord, load_records, merge

RULES = Path(__file__).resolve().parents[1] / "rules"
SPOT = {  # catalogue probe -> (op in the export, Core ML converts, litert-torch converts and runs)
    "torch.acosh": ("aten.acosh.default", False, True),
    "torch.cdist": ("aten.cdist.default", False, True),
    "torch.nonzero": ("aten.nonzero.default", True, False),
    "torch.unique": ("aten._unique2.default", False, False),
}
PROBE_MODULES = {"coreml": "exportlint.tables.probe.coreml", "tflite": "exportlint.tables.probe.litert"}


@pytest.fixture(scope="module")
def catalog():
    from exportlint.tables.probe.catalog import catalog

    return catalog()


def _probe(family: str, case) -> ProbeRecord:
    import importlib

    return importlib.import_module(PROBE_MODULES[family]).probe_case(case)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["coreml", "tflite"])
@pytest.mark.parametrize("name", sorted(SPOT))
def test_spot_checks_real_converters(family, name, catalog):
    op, coreml_ok, tflite_ok = SPOT[name]
    record = _probe(family, catalog[name])
    assert not record.error and op in record.ops
    if family == "coreml":
        assert all((r is None) is coreml_ok for r in record.results.values()), record.results
    else:
        assert (record.results["builtins"] is None) is tflite_ok, record.results


@pytest.mark.parametrize("name", sorted(SPOT))
def test_spot_checks_tables(name):
    op, coreml_ok, tflite_ok = SPOT[name]
    for target, ok in (("coreml:iOS15", coreml_ok), ("coreml:iOS18", coreml_ok), ("tflite", tflite_ok)):
        verdict = support(op, target)
        assert verdict.status is (Status.SUPPORTED if ok else Status.UNSUPPORTED), (target, verdict)
        assert verdict.evidence == "probe"
        assert ok or verdict.reason


@pytest.mark.slow
@pytest.mark.parametrize("family", ["coreml", "tflite"])
def test_committed_probes_do_not_drift(family, catalog):
    """Re-run a random sample of committed probes: the converter must still say the same."""
    committed = [r for r in load_records(RULES / "probes" / f"aten-{family}.json")
                 if not r.error and r.name in catalog]
    for old in random.Random().sample(committed, 3):
        new = _probe(family, catalog[old.name])
        assert new.ops == old.ops, old.name
        assert {v: r is None for v, r in new.results.items()} == \
            {v: r is None for v, r in old.results.items()}, (old.name, old.results, new.results)


@pytest.mark.parametrize("family,libraries", [("coreml", {"torch", "coremltools"}),
                                              ("tflite", {"torch", "litert-torch", "ai-edge-litert"})])
def test_provenance(family, libraries):
    table = load_table("aten", family)
    prov = table["provenance"]
    assert prov["generator"] == f"exportlint.tables.generate.aten_{family}" and prov["generator_version"]
    assert libraries <= prov["libraries"].keys() and prov["generated"] and prov["sources"]
    assert prov["probes"]["run"] > 100 and prov["probes"]["converted"] > 50
    for counts in prov["entries"].values():
        assert counts["probed"] > 50 and counts["supported"] > 50


def test_coreml_upgrade_hint_and_dtypes():
    table = load_table("aten", "coreml")
    staged = [op for op, e in table["ops"].items()
              if e.get("iOS15", {}).get("status") == "unsupported" and e.get("iOS18", {}).get("status") == "supported"]
    for op in staged:
        assert support(op, "coreml:iOS15").since in ("iOS16", "iOS17", "iOS18")
    assert dtype_support("int64", "coreml:iOS17").status is Status.NARROWED
    assert dtype_support("float64", "coreml").status is Status.NARROWED
    assert dtype_support("float32", "tflite:gpu").status is Status.SUPPORTED
    assert dtype_support("int64", "tflite:gpu").status is Status.UNSUPPORTED


def test_tflite_gpu_rules():
    from exportlint.tables.probe.litert import gpu_blockers

    assert gpu_blockers([["CONV_2D", ["FLOAT32"]], ["GATHER", ["FLOAT32", "INT32"]]]) == []
    assert gpu_blockers([["ADD", ["INT64"]]]) == ["ADD: INT64 tensors not supported by the GPU delegate"]
    assert gpu_blockers([["CUSTOM:FlexUnique", ["FLOAT32"]]])[0].startswith("FlexUnique: custom op")
    assert gpu_blockers([["UNIQUE", ["FLOAT32"]]]) == ["UNIQUE: not supported by the GPU delegate"]


def test_merge_blames_the_probed_op_and_keeps_forms_as_variants():
    ok = ProbeRecord("a", "aten.x.default", ["aten.x.default", "aten.y.default"], {"v": None})
    bad = ProbeRecord("b", "aten.x.default", ["aten.x.default", "aten.z.default"], {"v": "E: boom"},
                      conditions="mode='odd'")
    other = ProbeRecord("c", "aten.q.default", ["aten.w.default"], {"v": "E: no"})
    forms = {"a": {"args": {"mode": "even"}}, "b": {"args": {"mode": "odd"}}}
    table = merge([ok, bad, other], ["v"], "x_ops", forms=forms)
    entry = table["aten.x.default"]["v"]
    assert entry["status"] == "unverified" and entry["decided_by"] == ["args.mode"]
    assert [(v["match"], v["status"]) for v in entry["variants"]] == [
        ({"args": {"mode": "even"}}, "supported"), ({"args": {"mode": "odd"}}, "unsupported")]
    assert "conditions" not in entry
    assert table["aten.y.default"]["v"]["status"] == "supported"
    assert "aten.z.default" not in table  # not blamed: the failing probe was about aten.x
    assert table["aten.w.default"]["v"] == {"status": "unsupported", "evidence": "probe", "probe": "c",
                                            "reason": "E: no"}
    # probes that agree: one plain entry, whatever forms they declare
    agree = merge([ok, ProbeRecord("d", "aten.x.default", ["aten.x.default"], {"v": None})], ["v"], "x_ops",
                  forms={"a": {"args": {"mode": "even"}}, "d": {"args": {"mode": "odd"}}})
    assert agree["aten.x.default"]["v"] == {"status": "supported", "evidence": "probe", "probe": "d"}


@pytest.mark.slow
@pytest.mark.parametrize("family", ["coreml", "tflite"])
def test_tables_regenerate_from_committed_probes(family, tmp_path):
    """Without --probe the generator is deterministic: it reproduces the committed table."""
    import importlib

    module = importlib.import_module(f"exportlint.tables.generate.aten_{family}")
    (path,) = module.generate(tmp_path, probe=False)
    assert path.read_text() == (RULES / "tables" / f"aten-{family}.json").read_text()


def _net(tail):
    """A small conv net ending in `tail`: the op under test sits inside a realistic graph."""
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            return tail(torch.relu(self.conv(x)) + 1.5)

    return Net().eval(), (torch.rand(1, 3, 8, 8),)


NETS = {  # model -> factory; the examples are captured from examples/ like the CLI does
    "acosh": lambda: _net(lambda y: y.acosh()),
    "unique": lambda: _net(lambda y: y.round().unique()),
    "cdist": lambda: _net(lambda y: __import__("torch").cdist(y.flatten(2), y.flatten(2))),
    "pixel_unshuffle": lambda: _net(lambda y: __import__("torch").nn.functional.pixel_unshuffle(y, 2)),
    **{spec: (lambda spec=spec: _example(spec)) for spec in
       ("mobilenet_block.py:build", "shape_head.py:build", "shape_head.py:build_warp")},
}
AGREEMENT = [(m, t) for m in NETS for t in ("coreml:iOS15", "coreml:iOS16", "tflite")]


def _example(spec: str):
    from conftest import EXAMPLES

    from exportlint.capture.spec import call_factory

    return call_factory(str(EXAMPLES / spec))


def _real_verdict(name: str, target: str) -> str | None:
    """None when the real converter takes the model (TFLite: builtins only, runs, matches)."""
    from exportlint.tables.probe.catalog import OneOp

    family, _, version = target.partition(":")
    record = _probe(family, OneOp(name, "", NETS[name]))
    return record.error or record.results[version or "builtins"]


@pytest.mark.slow
@pytest.mark.parametrize("name, target", AGREEMENT, ids=[f"{n}@{t}" for n, t in AGREEMENT])
def test_verdict_matches_real_converter(name, target):
    from conftest import check

    from exportlint.capture.pytorch import capture_torch
    from exportlint.options import Options
    from exportlint.engine.rule import Severity

    graph = capture_torch(*NETS[name](), Options(), name)
    findings = check(graph, [target])
    blocked = [f.message for f in findings if f.severity is Severity.ERROR and f.target in (None, target)]
    real = _real_verdict(name, target)
    assert (not blocked) == (real is None), (real, blocked)


# --- the trace path: ct.convert(torch.jit.trace(m, args)) (`torchscript-coreml.json`) -------------

TRACE_SPOT = {  # catalogue probe -> (traced node kind, the trace path converts at iOS16)
    "torch.unique": ("aten::_unique2", True),  # the export path fails on it
    "F.max_pool2d": ("aten::max_pool2d", True),  # the export path fails on it
    "torch.bitwise_or": ("aten::bitwise_or", False),
}


def test_trace_path_in_place_kind_is_proven_through_its_functional():
    verdict = support("aten::relu_", "coreml:iOS16", dialect="torchscript")
    assert verdict.status is Status.SUPPORTED and verdict.evidence == "probe"


def test_trace_path_kind_without_converter_is_unsupported():
    verdict = support("aten::bitwise_or", "coreml:iOS16", dialect="torchscript")
    assert verdict.status is Status.UNSUPPORTED and "bitwise_or" in verdict.reason
    unprobed = support("aten::cholesky_inverse", "coreml:iOS18", dialect="torchscript")
    assert unprobed.status is Status.UNSUPPORTED and unprobed.evidence == "registry"
    assert support("mylib::op", "coreml:iOS16", dialect="torchscript").status is Status.UNKNOWN


def test_trace_table_provenance():
    table = load_table("torchscript", "coreml")
    prov = table["provenance"]
    assert table["dialect"] == "torchscript" and prov["generator"].endswith("torchscript_coreml")
    assert {"torch", "coremltools"} <= prov["probe_libraries"].keys() and prov["probes"]["run"] > 100
    assert all(key.count("::") == 1 for key in table["ops"])


@pytest.mark.parametrize("name", sorted(TRACE_SPOT))
def test_trace_path_spot_checks_real_converter(name, catalog):
    import coremltools as ct
    import torch

    from exportlint.tables.probe.coreml import tensor_type

    kind, ok = TRACE_SPOT[name]
    module, inputs = catalog[name].build()
    traced = torch.jit.trace(module, inputs, check_trace=False)
    assert kind in {n.kind() for n in traced.inlined_graph.nodes()}
    try:
        ct.convert(traced, inputs=[tensor_type(t) for t in inputs], convert_to="mlprogram",
                   skip_model_load=True, minimum_deployment_target=ct.target.iOS16)
        converted = True
    except Exception:  # noqa: BLE001 - the converter's verdict
        converted = False
    verdict = support(kind, "coreml:iOS16", dialect="torchscript")
    assert converted is ok and verdict.evidence == "probe"
    assert verdict.status is (Status.SUPPORTED if ok else Status.UNSUPPORTED), verdict


@pytest.mark.slow
@pytest.mark.parametrize("name", ["torchscript_coreml", "torchscript_onnx"])
def test_torchscript_tables_regenerate_from_committed_probes(name, tmp_path):
    import importlib

    (path,) = importlib.import_module(f"exportlint.tables.generate.{name}").generate(tmp_path, probe=False)
    assert path.read_text() == (RULES / "tables" / path.name).read_text()
