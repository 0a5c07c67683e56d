"""ONNX and TensorRT support tables: committed facts, multi-hop verdicts, and drift against the real
exporter (a few probes re-run; the full probe run is the offline `--probe` step)."""

from __future__ import annotations

import random

import pytest

from exportlint.tables import Status, load_table, support
from exportlint.tables.generate import aten_onnx, onnx_onnx, onnx_tensorrt
from exportlint.tables.probe import onnx_runner
from exportlint.tables.query import op_support, table_summaries
from exportlint.targets import all_targets

SPOT = {  # the default (dynamo) exporter's verdicts (TABLES.md spot checks)
    "aten.acosh.default": Status.SUPPORTED,
    "aten.cdist.default": Status.UNSUPPORTED,
    "aten.nonzero.default": Status.SUPPORTED,
    "aten._unique2.default": Status.SUPPORTED,
}


@pytest.mark.parametrize("table", [("aten", "onnx"), ("onnx", "onnx"), ("onnx", "tensorrt")])
def test_tables_have_provenance(table):
    t = load_table(*table)
    prov = t["provenance"]
    assert prov["generator"].startswith("exportlint.tables.generate.")
    assert prov["generator_version"] and prov["generated"] and prov["sources"]
    assert "dtypes" in t and t["ops"]
    if table == ("aten", "onnx"):
        assert prov["libraries"]["torch"].startswith("2.")
        counts = prov["probes"]
        assert counts["probes"] > 0 and counts["supported"] > 0
        assert counts["entries"] == counts["supported"] + counts["unsupported"] + counts["unverified"]
    if table == ("onnx", "tensorrt"):
        assert {r["branch"] for r in prov["releases"].values()} == {"8.6-GA", "10.1-GA"}
        assert all(len(r["commit"]) == 40 for r in prov["releases"].values())


@pytest.mark.parametrize("op,expected", SPOT.items())
def test_spot_checks_at_opset_17(op, expected):
    verdict = support(op, "onnx:17")
    assert verdict.exporters["dynamo"] == expected.value, verdict
    assert verdict.evidence == "probe"


def test_cdist_reaches_onnx_only_through_torchscript():
    verdict = support("aten.cdist.default", "onnx:17")
    assert verdict.status is Status.SUPPORTED and verdict.via == "torchscript"


def test_grid_sample_blocked_below_16_with_upgrade_hint():
    at13 = support("aten.grid_sampler.default", "onnx:13")
    assert at13.status is Status.UNSUPPORTED and at13.since == "16"
    assert "opset-18" in at13.reason or "16" in at13.reason
    assert support("aten.grid_sampler.default", "onnx:17").status is Status.SUPPORTED
    # torch.jit.trace graphs carry no overload: the packet name resolves too
    assert support("aten.grid_sampler", "onnx:17").status is Status.SUPPORTED


def test_layer_norm_at_13_only_through_torchscript():
    verdict = support("aten.layer_norm.default", "onnx:13")
    assert verdict.status is Status.SUPPORTED and verdict.via == "torchscript"
    entry = load_table("aten", "onnx")["ops"]["aten.layer_norm.default"]
    at13 = entry.get("13") or entry["*"]
    assert at13["exporters"] == {"dynamo": "unsupported", "torchscript": "supported"}
    at17 = entry.get("17") or entry["*"]
    assert at17["exporters"]["dynamo"] == "supported"
    assert "ai.onnx::LayerNormalization" in at17["onnx_ops"]


def test_unknown_op_is_unknown():
    assert support("aten.not_an_op.default", "onnx:18").status is Status.UNKNOWN


def test_tensorrt_multi_hop_names_the_failing_hop():
    unique = support("aten._unique2.default", "tensorrt:10")  # exports to ONNX Unique: TRT has none
    assert unique.status is Status.UNSUPPORTED and unique.hop == "onnx->tensorrt"
    assert "ai.onnx::Unique" in unique.reason
    conv = support("aten.conv2d.default", "tensorrt:8.6")
    assert conv.status is Status.SUPPORTED and conv.via == "aten->onnx->tensorrt"


def test_tensorrt_dtypes_narrow_int64_before_10():
    from exportlint.tables import dtype_support

    assert dtype_support("int64", "tensorrt:8.6", "onnx").status is Status.NARROWED
    assert dtype_support("int64", "tensorrt:10", "onnx").status is Status.SUPPORTED
    assert dtype_support("int64", "onnx:13").status is Status.SUPPORTED


def test_onnx_dialect_availability():
    assert support("ai.onnx::GridSample", "onnx:13", "onnx").status is Status.UNSUPPORTED
    assert support("ai.onnx::GridSample", "onnx:13", "onnx").since == "16"
    assert support("ai.onnx::GridSample", "onnx:16", "onnx").status is Status.SUPPORTED
    upsample = load_table("onnx", "onnx")["ops"]["ai.onnx::Upsample"]
    assert (upsample.get("10") or upsample["*"])["availability"] == "deprecated"
    assert support("ai.onnx::Gelu", "tensorrt:8.6", "onnx").status is Status.UNSUPPORTED
    assert support("ai.onnx::Gelu", "tensorrt:8.6", "onnx").since == "10"


def test_query_covers_every_target():
    result = op_support("aten.conv2d.default")
    assert set(result) == {str(t) for t in all_targets()} and "tflite" in result
    assert result["onnx:13"].status is Status.SUPPORTED
    summary = {(s.dialect, s.family): s for s in table_summaries()}[("aten", "onnx")]
    assert summary.libraries["torch"] and summary.counts["13"]["supported"] > 0
    assert 0 < summary.probed_share["13"] <= 1


def test_small_tables_regenerate_identically():
    import json

    assert onnx_onnx.build_table()["ops"] == load_table("onnx", "onnx")["ops"]
    snapshot = json.loads(onnx_tensorrt.SNAPSHOT.read_text())
    assert onnx_tensorrt.build_table(snapshot)["ops"] == load_table("onnx", "tensorrt")["ops"]


@pytest.mark.slow
def test_aten_table_regenerates_from_committed_probes():
    table = aten_onnx.build_table(onnx_runner.load_results(aten_onnx.PROBES_PATH))
    assert table["ops"] == load_table("aten", "onnx")["ops"]


@pytest.fixture(scope="module")
def committed_probes():
    return onnx_runner.load_results(aten_onnx.PROBES_PATH)


def _statuses(result):
    return {exp: {v: r.status for v, r in per.items()} for exp, per in result.results.items()}


@pytest.mark.slow
def test_probe_sample_matches_real_exporter(committed_probes):
    """Drift check: re-run the spot-check probes and a random sample against the real exporters."""
    onnx_runner._quiet()
    fixed = ["torch.cdist", "F.grid_sample[bilinear]", "torch.acosh"]
    rng = random.Random()
    names = fixed + rng.sample(sorted(set(committed_probes) - set(fixed)), 2)
    for name in names:
        fresh = onnx_runner.run_probe(__import__(
            "exportlint.tables.probe.catalog", fromlist=["catalog"]).catalog()[name])
        assert fresh.aten_ops == committed_probes[name].aten_ops, name
        assert _statuses(fresh) == _statuses(committed_probes[name]), name


@pytest.mark.slow
def test_down_conversion_shortcut_matches_full_export():
    """The probe replays torch's convert_version + optimize; full exports must agree."""
    assert onnx_runner.verify_shortcut(["F.grid_sample[bilinear]", "F.relu"], opsets=(13, 17)) == []


def test_every_core_aten_op_is_probed_or_excluded_with_a_reason():
    """The coverage claim: each core ATen op is in the exported graph of a committed probe, or in
    `catalog.EXCLUDED` with the reason no probe is built for it (and nothing is both)."""
    from exportlint.tables.generate.aten_onnx import PROBES_PATH
    from exportlint.tables.probe.catalog import EXCLUDED, core_aten_ops
    from exportlint.tables.probe.onnx_runner import load_results

    probed = {op for result in load_results(PROBES_PATH).values() for op in result.aten_ops}
    core = {str(op) for op in core_aten_ops()}
    assert core - probed - set(EXCLUDED) == set()
    assert probed & set(EXCLUDED) == set()
    assert all(reason.strip() for reason in EXCLUDED.values())


# --- the TorchScript exporter on the traced graph (`torchscript-onnx.json`) ------------------------

TS_SPOT = {  # catalogue probe -> (traced node kind, {opset: torch.onnx.export(dynamo=False) works})
    "F.grid_sample[bilinear]": ("aten::grid_sampler", {13: False, 16: True}),
    "torch.cumsum": ("aten::cumsum", {9: False, 11: True}),
    "F.hardswish": ("aten::hardswish", {13: True}),
}


def test_torchscript_table_reads_node_kinds():
    assert support("aten::relu_", "onnx:17", dialect="torchscript").status is Status.SUPPORTED
    raising = support("aten::_unique", "onnx:17", dialect="torchscript")  # registered, always raises
    assert raising.status is Status.UNSUPPORTED and "always raises" in raising.reason
    assert support("aten::grid_sampler", "onnx:13", dialect="torchscript").since == "16"
    prov = load_table("torchscript", "onnx")["provenance"]
    assert prov["generator"].endswith("torchscript_onnx") and prov["probes"]["run"] > 100


@pytest.mark.parametrize("name", sorted(TS_SPOT))
def test_torchscript_spot_checks_real_exporter(name):
    import io

    import onnx
    import torch

    from exportlint.tables.probe.catalog import catalog

    onnx_runner._quiet()
    kind, expected = TS_SPOT[name]
    probe = catalog()[name]
    module, inputs = probe.build()
    with torch.no_grad():
        reference = onnx_runner._flat_outputs(module(*inputs))
    for opset, ok in expected.items():
        buffer = io.BytesIO()
        try:
            torch.onnx.export(module, inputs, buffer, dynamo=False, opset_version=opset)
            result = onnx_runner.validate(onnx.load_from_string(buffer.getvalue()), opset, inputs,
                                          reference, probe.deterministic).status
        except Exception:  # noqa: BLE001 - the exporter's verdict
            result = "unsupported"
        verdict = support(kind, f"onnx:{opset}", dialect="torchscript")
        assert (result == "supported") is ok and verdict.evidence == "probe", (opset, verdict)
        assert verdict.status is (Status.SUPPORTED if ok else Status.UNSUPPORTED), (opset, verdict)
