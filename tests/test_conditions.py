"""Support that depends on the node's form (arguments, input dtypes, constness): the tables hold each
probed form as a variant, `support` matches a node's own form, an unprobed form is "unverified", and
the verdicts agree with the real converters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exportlint.checks import operator_support_forms as forms
from exportlint.ir import OpNode, TensorMeta
from exportlint.tables import Form, Status, has_variants, load_table, match_fields, support
from exportlint.targets import parse_target

RULES = Path(__file__).resolve().parents[1] / "rules"
S, U, V = Status.SUPPORTED, Status.UNSUPPORTED, Status.UNVERIFIED
# (builder, op whose verdict is checked, target, expected status)
CASES = [
    (forms._max_pool_no_stride, "aten.max_pool2d.default", "coreml:iOS16", U),
    (forms._max_pool_stride, "aten.max_pool2d.default", "coreml:iOS16", S),
    (forms._pad_circular, "aten.pad.default", "coreml:iOS16", U),
    (forms._pad_reflect, "aten.pad.default", "coreml:iOS16", S),
    (forms._grid_sample_bicubic, "aten.grid_sampler.default", "coreml:iOS16", U),
    (forms._grid_sample_bilinear, "aten.grid_sampler.default", "coreml:iOS16", S),
    (forms._inverse_of_input, "aten.linalg_inv.default", "coreml:iOS16", U),
    (forms._inverse_of_parameter, "aten.linalg_inv.default", "coreml:iOS16", S),
    (forms._floor_divide, "aten.div.Tensor_mode", "tflite", U),
    (forms._trunc_divide, "aten.div.Tensor_mode", "tflite", S),
    (forms._sum_float64, "aten.sum.dim_IntList", "tflite", U),
    (forms._sum_float32, "aten.sum.dim_IntList", "tflite", S),
    (forms._mask_index, "aten.index.Tensor", "tflite", U),
    (forms._integer_index, "aten.index.Tensor", "tflite", S),
]
IDS = [f"{b.__name__}-{t}" for b, _, t, _ in CASES]


def _capture(builder):
    from exportlint.capture.pytorch import capture_torch
    from exportlint.options import Options

    model, inputs = builder()
    return capture_torch(model, inputs, Options(recapture=False), builder.__name__)


def _node(builder, op) -> OpNode:
    graph = _capture(builder)
    return graph.by_op[op][0]


@pytest.mark.parametrize("builder, op, target, expected", CASES, ids=IDS)
def test_node_form_decides_the_verdict(builder, op, target, expected):
    node = _node(builder, op)
    assert has_variants(op, parse_target(target))
    verdict = support(op, target, form=node)
    assert verdict.status is expected, verdict
    assert verdict.form  # the probed form that decided it, in words
    assert support(op, target, form=Form.of(node)) == verdict


def test_unprobed_form_is_unverified_with_its_reason():
    verdict = support("aten.sum.dim_IntList", "tflite", form=_node(forms._sum_float16, "aten.sum.dim_IntList"))
    assert verdict.status is V and verdict.decided_by == ("inputs.0.dtype",)
    assert "inputs.0.dtype" in verdict.reason and "dtype=float16" in verdict.reason
    assert "not probed" in verdict.reason and "float64 fails" in verdict.reason
    odd = support("aten.pad.default", "coreml:iOS16", form=Form(args={"mode": "odd"}))
    assert odd.status is V and "args.mode" in odd.reason and "mode='odd'" in odd.reason
    # no form, or a form without captured arguments (torch.jit.trace: op without overload)
    assert support("aten.pad.default", "coreml:iOS16").status is V
    traced = OpNode("pad_0", "aten.pad", "aten", inputs=(TensorMeta("float32", (1, 3, 8, 8)),))
    assert Form.of(traced).args is None
    assert support("aten.pad", "coreml:iOS16", form=traced).status is V


def test_a_dtype_the_target_tables_omit_leaves_the_path_to_the_converter():
    from exportlint.checks.operator_support import op_verdicts, paths_to_convert

    graph = _capture(forms._complex_scale)
    coreml, onnx = parse_target("coreml:iOS16"), parse_target("onnx:18")
    export = next(p for p in coreml.unit.paths if p.name == "export")
    mul = [v for nodes, v in op_verdicts(graph, coreml, export) if nodes[0].op == "aten.mul.Tensor"]
    assert [v.status for v in mul] == [V] and "complex64" in mul[0].reason
    assert ("coreml:iOS16", "export") in paths_to_convert(graph, [coreml, onnx])
    # ONNX's dtype table lists only the 64-bit types it keeps: no claim about the others
    dynamo = next(p for p in onnx.unit.paths if p.name == "dynamo")
    assert all(v.status is not V or "complex" not in v.reason for _, v in op_verdicts(graph, onnx, dynamo))


def test_the_converter_has_the_last_word_on_a_path_the_tables_block_and_none_on_a_proven_one():
    """A one-op probe cannot see every pattern a converter fuses: where the tables say an op fails, the
    converter runs; where they prove every op, it does not."""
    from exportlint.checks.operator_support import paths_to_convert

    coreml, tflite = parse_target("coreml:iOS16"), parse_target("tflite")
    assert paths_to_convert(_capture(forms._grid_sample_bicubic), [coreml, tflite]) >= {("coreml:iOS16", "export")}
    assert paths_to_convert(_capture(forms._conv_linear_add), [coreml, tflite]) == set()


@pytest.mark.parametrize("target", ["onnx:18", "onnx:13", "coreml:iOS16", "tflite"])
def test_default_forms_of_common_ops_stay_supported(target):
    graph = _capture(forms._conv_linear_add)
    for op, nodes in graph.by_op.items():
        verdict = support(op, target, form=nodes[0])
        if op.startswith(("aten.conv2d", "aten.linear", "aten.add.Tensor")):
            assert verdict.status is S, (op, verdict)
        assert not verdict.decided_by or verdict.status is not V, (op, verdict)


def test_const_inputs_in_the_ir():
    graph = _capture(forms._inverse_of_parameter)
    assert graph.by_op["aten.linalg_inv.default"][0].const_inputs == (True,)
    assert graph.by_op["aten.matmul.default"][0].const_inputs == (False, True)
    assert _node(forms._inverse_of_input, "aten.linalg_inv.default").const_inputs == (False,)
    assert Form.of(_node(forms._mask_index, "aten.index.Tensor")).inputs[1].dtype == "bool"


class _SpatialTransformer:
    """affine_grid, its theta computed from the image, read by grid_sample (or returned: `alone`)."""

    def __new__(cls, alone: bool = False):
        import torch
        import torch.nn.functional as F

        def forward(x):
            grid = F.affine_grid(x.flatten(1)[:, :6].view(-1, 2, 3), [1, 3, 5, 5], align_corners=False)
            return grid if alone else F.grid_sample(x, grid, align_corners=False)

        return forms._fn(forward), (torch.rand(1, 3, 8, 8),)


def test_the_ops_reading_a_node_decide_a_pattern_the_converter_fuses():
    """Core ML's TorchScript frontend converts affine_grid only into the grid_sample that reads it."""
    from exportlint.capture.pytorch import trace_graph

    op, target = "aten::affine_grid_generator", "coreml:iOS16"
    verdicts = {}
    for alone in (False, True):
        graph = trace_graph(*_SpatialTransformer(alone), "stn", strict=False)
        node = graph.by_op[op][0]
        verdicts[alone] = support(op, target, "torchscript", form=Form.of(node, graph))
        unread = support(op, target, "torchscript", form=node)  # no graph: who reads it is not known
        assert unread.status is V and "readers unknown" in unread.reason
    assert verdicts[False].status is S and verdicts[False].form.endswith("read by grid_sampler"), verdicts[False]
    assert not verdicts[False].reason
    assert verdicts[True].status is U


FIELDS = {"args", "given", "inputs", "users"}
INPUT_FIELDS = {"dtype", "const", "rank"}


def _check_match(match):
    assert match and set(match) <= FIELDS, match
    for index, want in match.get("inputs", {}).items():
        assert index.isdigit() and want and set(want) <= INPUT_FIELDS, match
    assert all(isinstance(v, bool) for v in match.get("given", {}).values()), match


@pytest.mark.parametrize("family", ["coreml", "tflite", "onnx"])
def test_tables_hold_conditions_as_data(family):
    table = load_table("aten", family)
    conditional = set()
    for op, per_version in table["ops"].items():
        for entry in per_version.values():
            assert "conditions" not in entry and "unmatched_probes" not in entry, (op, entry)
            for variant in entry.get("variants", ()):
                _check_match(variant["match"])
                assert "variants" not in variant
            if entry.get("decided_by"):
                conditional.add(op)
                assert entry["status"] == "unverified"
                assert entry["decided_by"] == sorted({f for v in entry["variants"] for f in match_fields(v["match"])})
                assert len({v["status"] for v in entry["variants"]}) > 1
    assert conditional, f"aten-{family} has no condition-dependent op"


def test_catalogue_forms_name_real_schema_arguments():
    import torch

    from exportlint.tables.probe.catalog import catalog

    for name, one in catalog().items():
        if not one.match:
            continue
        _check_match(one.match)
        _, op_name, overload = one.op.split(".", 2)
        schema = getattr(getattr(torch.ops.aten, op_name), overload)._schema
        names = {a.name for a in schema.arguments}
        assert set(one.match.get("args", {})) | set(one.match.get("given", {})) <= names, (name, one.match)


def test_committed_probes_cover_every_form():
    """Every form the catalogue declares has a probe record that ran (none timed out)."""
    from exportlint.tables.probe.catalog import catalog

    declared = {n for n, one in catalog().items() if one.match}
    for family in ("coreml", "tflite"):
        records = {r["name"]: r for r in json.loads((RULES / "probes" / f"aten-{family}.json").read_text())["probes"]}
        missing = sorted(n for n in declared if n not in records or records[n]["error"].startswith("probe timed out"))
        assert not missing, (family, missing)


PROBE_MODULES = {"coreml": "exportlint.tables.probe.coreml", "tflite": "exportlint.tables.probe.litert"}


@pytest.mark.slow
@pytest.mark.parametrize("builder, op, target, expected", CASES, ids=IDS)
def test_verdict_agrees_with_the_real_converter(builder, op, target, expected):
    """Convert the example module with the real converter (coremltools at the target, litert-torch
    then the LiteRT interpreter): it converts exactly when the table says "supported"."""
    import importlib

    from exportlint.tables.probe.catalog import OneOp

    t = parse_target(target)
    probe = importlib.import_module(PROBE_MODULES[t.family]).probe_case
    record = probe(OneOp(builder.__name__, op, builder))
    assert not record.error, record.error
    converted = record.results[t.version if t.family == "coreml" else "builtins"] is None
    assert converted is (expected is S), record.results


def test_docs_name_every_condition_dependent_op():
    docs = Path(__file__).resolve().parents[1] / "docs"
    for family, doc in (("coreml", "tables-coreml-tflite.md"), ("tflite", "tables-coreml-tflite.md"),
                        ("onnx", "tables-onnx.md")):
        section = (docs / doc).read_text(encoding="utf-8").split("## Conditions", 1)[1].split("\n## ", 1)[0]
        ops = {op for op, per in load_table("aten", family)["ops"].items() if op.count(".") >= 2
               and any(e.get("decided_by") for e in per.values())}
        missing = sorted(op for op in ops if f"`{op}`" not in section)
        assert not missing, (doc, missing)
