"""Where a pattern rule predicts a converter failure, the real converter fails on the rule's failing
example and succeeds on its passing example. One conversion per example; a few seconds each."""

from __future__ import annotations

import warnings

import pytest

from exportlint.checks import activations, data_dependent, packing, shape_dependent


def _onnx(model, inputs):
    """torch.onnx.export (default dynamo exporter) -> ModelProto."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.onnx.export(model.eval(), inputs, dynamo=True, verbose=False).model_proto


def _coreml(model, inputs):
    import coremltools as ct
    import torch

    ep = torch.export.export(model.eval(), inputs).run_decompositions({})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ct.convert(ep, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS16)


def _litert(model, inputs):
    import litert_torch

    return litert_torch.convert(model.eval(), inputs)


def _onnx_dynamic_legacy(model, inputs) -> bytes:
    """The TorchScript exporter (dynamo=False) with every dim of the first input dynamic except
    channels: what a user does to serve other batch and image sizes."""
    import io

    import torch

    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), inputs, out, dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "batch", 2: "height", 3: "width"}})
    return out.getvalue()


def test_shape_dependent_kernel_cannot_be_exported_with_dynamic_sizes():
    """EXL201: the pooling kernel read from x.size() cannot be made dynamic: the exporter asks for a
    constant. The adaptive-pool/flatten version exports and is right at another batch and size."""
    import onnxruntime as ort
    import torch

    model, inputs = shape_dependent._global_pool()
    with pytest.raises(Exception, match="not constant"):
        _onnx_dynamic_legacy(model, inputs)

    model, inputs = shape_dependent._adaptive_pool()
    session = ort.InferenceSession(_onnx_dynamic_legacy(model, inputs))
    big = torch.randn(4, 4, 16, 16)
    (out,) = session.run(None, {"x": big.numpy()})
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(out), model(big), atol=1e-5)


def test_packed_sequence_stops_the_onnx_exporter():
    """EXL301: torch.onnx.export cannot export pack_padded_sequence; the padded version exports."""
    model, inputs = packing._packed_lstm()
    with pytest.raises(Exception, match="torch.export"):
        _onnx(model, inputs)
    model, inputs = packing._padded_lstm()
    assert _onnx(model, inputs).graph.node


def test_activation_that_the_table_blocks_is_one_error_and_fails_in_coremltools():
    """celu has no Core ML translation: EXL101 reports it (EXL302 does not repeat it), and
    coremltools agrees; the common activations of EXL302's passing example convert."""
    import torch

    from conftest import check
    from exportlint.capture.pytorch import capture_torch
    from exportlint.options import Options

    model, inputs = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.CELU()).eval(), (torch.randn(1, 8),)
    findings = check(capture_torch(model, inputs, Options(), "celu"), ["coreml:iOS16"])
    assert [(f.code, f.op) for f in findings if f.severity.value == "error"] == [("EXL101", "aten.celu.default")]
    with pytest.raises(NotImplementedError, match="celu"):
        _coreml(model, inputs)
    model, inputs = activations._common()
    assert _coreml(model, inputs) is not None


def test_data_dependent_mask_fails_in_litert():
    """EXL202: boolean-mask indexing stops litert-torch; the torch.where form converts."""
    model, inputs = data_dependent._masked()
    with pytest.raises(Exception, match="(?i)boolean|concrete"):
        _litert(model, inputs)
    model, inputs = data_dependent._where()
    assert _litert(model, inputs) is not None


def test_pattern_rules_stay_linear_on_a_large_graph():
    """100k ops, 8 targets: the pattern rules together take a few seconds at most."""
    import time

    from exportlint.options import Options
    from exportlint.engine.engine import run_rules
    from exportlint.engine.registry import all_rules
    from exportlint.engine.rule import Context
    from exportlint.ir import CaptureInfo, Location, NodeKind, OpGraph, OpNode, TensorMeta
    from exportlint.targets import parse_target

    graph = OpGraph("big", "aten", CaptureInfo(method="synthetic"))
    meta = TensorMeta("float32", (1, 8))
    cycle = ("aten.conv2d.default", "aten.hardswish.default", "aten.mean.dim", "aten.sub.Tensor",
             "aten.sigmoid.default", "aten.tanh.default", "aten.view.default", "aten.add_.Tensor")
    graph.add_node(OpNode("x", "input", "aten", NodeKind.INPUT, outputs=(TensorMeta("float64", (1, 8)),)))
    previous = "x"
    for i in range(100_000):
        op = cycle[i % len(cycle)]
        graph.add_node(OpNode(f"n{i}", op, "aten", args={"dim": [-1], "size": [1, -1]}, inputs=(meta,),
                              outputs=(meta,), location=Location("model.py", i + 1)))
        graph.add_edge(previous, f"n{i}", meta)
        previous = f"n{i}"
    targets = [parse_target(t) for t in ("onnx:13", "onnx:18", "coreml:iOS15", "coreml:iOS18", "tflite",
                                         "tflite:gpu", "tensorrt:8.6", "tensorrt:10")]
    options = Options(targets=targets, mean=(0.5,), std=(0.5,))
    rules = [r for c, r in all_rules().items() if c in PATTERN_CODES]
    start = time.perf_counter()
    findings = run_rules(graph, rules, Context(targets, options))
    elapsed = time.perf_counter() - start
    assert not [f for f in findings if f.code == "EXL000"]
    assert elapsed < 20, elapsed
    print(f"pattern rules on 100k ops x 8 targets: {elapsed:.2f}s, {len(findings)} findings")


PATTERN_CODES = {"EXL102", "EXL201", "EXL202", "EXL203", "EXL301", "EXL302", "EXL303", "EXL401", "EXL402"}
