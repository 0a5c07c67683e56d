"""Capture: ATen op names, module paths, user locations, tensor metadata, dynamic dims, fallbacks."""

from __future__ import annotations

import torch

from conftest import EXAMPLES, ROOT, capture_example, capture_path, check
from exportlint.capture.pytorch import JIT_TRACE, capture_torch, capture_trace, script_graph, trace_graph
from exportlint.options import DynamicDim, Options
from exportlint.ir import NodeKind


def _line_of(path, needle: str) -> int:
    return next(i for i, l in enumerate(path.read_text().splitlines(), 1) if needle in l)


def test_ops_modules_and_locations_on_mobilenet_block():
    graph = capture_example("mobilenet_block.py:build")
    assert graph.capture.method == "torch.export(non-strict)"
    (gate, *_) = graph.by_op["aten.hardsigmoid.default"]
    assert gate.module == "features.0.se.gate"
    assert gate.module_type == "torch.nn.modules.activation.Hardsigmoid"
    src = EXAMPLES / "mobilenet_block.py"
    assert gate.location.path == str(src)
    assert gate.location.line == _line_of(src, "return x * self.gate(")
    text = src.read_text().splitlines()[gate.location.line - 1]
    assert text[gate.location.column - 1:].startswith("self.gate(")
    assert gate.outputs[0].dtype == "float32" and gate.outputs[0].shape == (1, 64, 1, 1)
    assert all(loc.path == str(src) for loc in gate.stack)  # user frames only, no torch internals


def test_constant_args_and_edges_on_shape_head():
    graph = capture_example("shape_head.py:build")
    (pool,) = graph.by_op["aten.avg_pool2d.default"]
    assert pool.args["kernel_size"] == [32, 32]
    (view,) = graph.by_op["aten.view.default"]
    assert view.args["size"] == [2, -1]
    assert [p.op for p in graph.predecessors(view)] == ["aten.avg_pool2d.default"]
    (x,) = graph.inputs()
    assert x.kind is NodeKind.INPUT and x.outputs[0].shape == (2, 3, 32, 32)


def test_dynamic_dims_are_named_and_specialisation_is_recorded():
    options = Options(dynamic=[DynamicDim(0, 0, "batch"), DynamicDim(0, 2, "height", 8, 64)])
    graph = capture_path(str(EXAMPLES / "shape_head.py:build"), options)
    (x,) = graph.inputs()
    assert x.outputs[0].shape[0] == "batch"
    # F.avg_pool2d(x, x.size()[2:]) freezes the height into the kernel: torch.export specialises it
    assert graph.capture.specialized == {"height": 32}


def test_fallback_to_jit_trace_keeps_aten_ops_and_lines():
    from bad_models import Branchy

    graph = capture_torch(Branchy(), (torch.ones(2, 3),), Options(), "branchy")
    assert graph.capture.method == JIT_TRACE and graph.capture.ok
    assert {"aten.relu", "aten.mul"} <= set(graph.by_op)
    (relu,) = graph.by_op["aten.relu"]
    assert relu.location.line == _line_of(ROOT / "tests/bad_models.py", "torch.relu(x) * 2")
    assert graph.capture.failure_location.line == _line_of(ROOT / "tests/bad_models.py", "if x.sum() > 0")


def test_training_mode_capture_is_recorded():
    graph = capture_torch(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5)),
                          (torch.randn(2, 4),), Options(train=True), "dropout")
    assert graph.capture.training


def test_specialisation_points_at_the_line_that_froze_the_size():
    options = Options(dynamic=[DynamicDim(0, 2, "height", 8, 64)])
    graph = capture_path(str(EXAMPLES / "shape_head.py:build"), options)
    where = graph.capture.specialization_location["height"]
    assert where.line == _line_of(EXAMPLES / "shape_head.py", "F.avg_pool2d(x, x.size()[2:])")


def test_the_pass_at_other_sizes_can_be_skipped():
    assert capture_example("shape_head.py:build").capture.sizes is not None
    graph = capture_path(str(EXAMPLES / "shape_head.py:build"), Options(recapture=False))
    assert graph.capture.sizes is None and graph.capture.sizes_skipped == "skipped with --no-recapture"


def test_dims_that_grow_only_together_are_grown():
    """Dims are tried as a group before one by one: a model that takes square inputs only grows both."""
    from exportlint.capture.sizes import grown_inputs

    class Square(torch.nn.Module):
        def forward(self, x):
            return x @ x

    (grown,), _ = grown_inputs(Square().eval(), (torch.randn(3, 3),))
    assert tuple(grown.shape) == (6, 6)


def test_exl201_says_when_the_pass_at_other_sizes_did_not_run():
    import torch

    from exportlint.capture.pytorch import capture_torch

    class Lookup(torch.nn.Module):  # integer inputs only: no dimension is grown
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(10, 4)

        def forward(self, ids):
            return self.emb(ids).sum(1)

    graph = capture_torch(Lookup().eval(), (torch.tensor([[1, 2, 3]]),), Options(), "lookup")
    (note,) = [f for f in check(graph, ["onnx:18"]) if f.code == "EXL201"]
    assert note.severity.value == "info" and "no input dimension can double" in note.message


def test_trace_graph_keeps_the_torchscript_node_kinds_at_user_lines():
    from bad_models import InPlace

    graph = trace_graph(InPlace().eval(), (torch.randn(1, 3, 8, 8),), "inplace")
    assert graph.dialect == "torchscript" and graph.capture.method == JIT_TRACE
    assert {"aten::_convolution", "aten::relu_", "aten::transpose", "aten::contiguous",
            "aten::hardswish_"} <= set(graph.by_op)
    assert not any(op.startswith("prim::") for op in graph.by_op)  # bookkeeping only here
    src = ROOT / "tests/bad_models.py"
    (relu,) = graph.by_op["aten::relu_"]
    assert relu.location.line == _line_of(src, "self.conv(x).relu_()") and relu.module is None
    (contiguous,) = graph.by_op["aten::contiguous"]
    assert contiguous.location.line == _line_of(src, ".contiguous()")
    (act,) = graph.by_op["aten::hardswish_"]
    assert act.location.line == _line_of(src, "return self.act(y)")
    assert act.module == "act" and act.module_type == "torch.nn.modules.activation.Hardswish"
    assert act.outputs[0].shape == (1, 4, 8, 8) and act.outputs[0].dtype == "float32"
    (conv,) = graph.by_op["aten::_convolution"]
    assert conv.module == "conv" and conv.args["padding"] == [1, 1]
    assert [p.op for p in graph.predecessors(relu)] == ["aten::_convolution"]


def test_script_graph_walks_control_flow_blocks():
    from bad_models import Looping

    graph = script_graph(Looping(), "looping")
    assert {"prim::If", "prim::Loop", "aten::relu", "aten::mul"} <= set(graph.by_op)
    (relu,) = graph.by_op["aten::relu"]
    assert relu.location.line == _line_of(ROOT / "tests/bad_models.py", "x = torch.relu(x)")
    assert [p.op for p in graph.predecessors(relu)] == ["input"]  # data edges cross into blocks


class _Unscriptable(torch.nn.Module):
    def forward(self, x):
        try:  # TorchScript has no try statement: script refuses, tracing takes the path
            return torch.relu(x)
        except RuntimeError:
            return x


def test_a_model_script_refuses_is_traced_and_the_script_failure_is_an_attempt_not_a_trace_error():
    model, inputs = _Unscriptable().eval(), (torch.randn(2, 3),)
    graph = capture_torch(model, inputs, Options(), "unscriptable")
    capture_trace(graph, model, inputs, script=True)
    assert graph.capture.traced is not None and graph.capture.traced.capture.method == JIT_TRACE
    assert graph.capture.trace_error is None
    assert [m for m, _ in graph.capture.attempts] == ["torch.jit.script"]
    assert not any(f.code == "EXL001" for f in check(graph, ["onnx:18"]))


def test_candidate_keys_fold_torchscript_in_place_kinds():
    from exportlint.tables import candidate_keys

    assert candidate_keys("aten::relu_") == ["aten::relu_", "aten::relu"]
    assert candidate_keys("aten::__and__") == ["aten::__and__"]
    assert candidate_keys("mylib::op") == ["mylib::op"]


def test_trace_graph_non_strict_keeps_the_dict_output_as_an_op():
    class DictOut(torch.nn.Module):
        def forward(self, x):
            return {"y": torch.relu(x)}

    graph = trace_graph(DictOut(), (torch.randn(2, 3),), "dict", strict=False)
    assert set(graph.by_op) == {"aten::relu", "prim::DictConstruct"}  # Core ML has no converter for it
