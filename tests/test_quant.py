"""Quantized precisions as part of the target (`executorch:xnnpack+int8`, `onnx:17+qdq`, `tflite+int8`,
`openvino:cpu+int8`, and Core ML's weight-only `coreml:iOS17+w8`): parsing, the per-op prediction (EXL610-EXL612)
against the real quantizers and backends, and the summary's numbers by hand."""

from __future__ import annotations

import inspect
from functools import cache

import pytest

from conftest import check
from exportlint.checks.quantization import (_constant_token_types, _conv_bn_relu_linear, _sigmoid_gate, _small_stem,
                                           _softmax_between_linears, _squeeze_excite)
from exportlint.errors import UsageError
from exportlint.targets import Target, parse_target

XNNPACK, QDQ, TFLITE, OPENVINO = "executorch:xnnpack+int8", "onnx:17+qdq", "tflite+int8", "openvino:cpu+int8"
W8 = "coreml:iOS17+w8"


def test_a_precision_is_part_of_the_target_and_round_trips():
    target = parse_target("ExecuTorch:XNNPACK+INT8")
    assert target == Target("executorch", "xnnpack", "int8") and str(target) == XNNPACK
    assert target.base == parse_target("executorch:xnnpack")
    assert str(parse_target("onnx:17+qdq")) == QDQ and parse_target("onnx+qdq").version == "18"
    assert parse_target("tflite:builtins+int8") == parse_target(TFLITE) == Target("tflite", "builtins", "int8")
    assert parse_target("coreml:ios17+W8") == Target("coreml", "iOS17", "w8")
    for bad in ("executorch:vulkan+int8", "onnx:11+qdq", "coreml:iOS16+int8", "onnx:17+fp8", "tflite:gpu+int8",
                "coreml:iOS15+w8"):
        with pytest.raises(UsageError, match="precisions are"):
            parse_target(bad)


def _tiny():
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.fc = torch.nn.Conv2d(3, 4, 3), torch.nn.Linear(4 * 6 * 6, 5)

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)).flatten(1))

    torch.manual_seed(0)
    return Tiny().eval(), (torch.randn(1, 3, 8, 8),)


@cache
def _graph(build):
    from exportlint.capture.pytorch import capture_torch
    from exportlint.options import Options

    return capture_torch(*build(), Options(), build.__name__)


def _predicted(build, target: str) -> dict[str, str]:
    from exportlint.checks.quantization import predict

    return {o.node.name: o.status for o in predict(_graph(build), parse_target(target))}


@pytest.mark.parametrize("target, library", [(XNNPACK, "executorch"), (TFLITE, "litert_torch")])
def test_conv_bn_relu_linear_is_fully_quantized_per_the_tables_and_the_real_quantizer(target, library):
    pytest.importorskip(library)
    import importlib

    unit = importlib.import_module(parse_target(target).unit.__module__)
    predicted = _predicted(_conv_bn_relu_linear, target)
    assert set(predicted.values()) == {"quantized"}, predicted
    model, inputs = _conv_bn_relu_linear()
    artifact, real = unit.int8_outcome(model, inputs)
    assert unit.run_int8(artifact, inputs, [model(*inputs)]) is None
    # batch_norm is folded into the conv (prepare_pt2e, or the XNNPACK pattern): no op of its own
    assert {n: s for n, (s, _) in real.items()} == {n: "quantized" for n in predicted if n != "batch_norm"}
    assert not [f for f in check(_graph(_conv_bn_relu_linear), [target]) if f.code in ("EXL610", "EXL611")]


def test_conv_bn_relu_linear_is_fully_quantized_per_the_tables_and_onnx_runtime_qdq():
    pytest.importorskip("onnxruntime.quantization")
    import torch

    from exportlint.families.onnx import qdq_outcome, quantize_qdq, run_qdq

    predicted = _predicted(_conv_bn_relu_linear, QDQ)
    assert set(predicted.values()) == {"quantized"}, predicted
    model, inputs = _conv_bn_relu_linear()
    proto = torch.onnx.export(_graph(_conv_bn_relu_linear).source, (), dynamo=True, opset_version=17).model_proto
    quantized = quantize_qdq(proto, inputs)
    assert run_qdq(quantized, inputs, [model(*inputs)]) is None
    real = qdq_outcome(quantized)
    assert real and all(status == "quantized" for status, _ in real.values()), real


def test_a_softmax_between_quantized_ops_fails_on_tflite_and_the_litert_interpreter_agrees():
    pytest.importorskip("litert_torch")
    from exportlint.families.tflite import int8_outcome, run_int8

    findings = [f for f in check(_graph(_softmax_between_linears), [TFLITE, XNNPACK]) if f.code == "EXL611"]
    assert [(f.target, f.op) for f in findings] == [(TFLITE, "aten.softmax.int")]
    model, inputs = _softmax_between_linears()
    content, real = int8_outcome(model, inputs)
    assert real["softmax"][0] == "quantized"  # the converter quantizes it with the linear's scale...
    with pytest.raises(RuntimeError, match="SOFTMAX"):  # ...which the interpreter's int8 kernel refuses
        run_int8(content, inputs, [model(*inputs)])


def test_an_op_that_stays_float_is_reported_at_its_line_and_xnnpack_agrees():
    pytest.importorskip("executorch")
    from exportlint.families.executorch import int8_outcome

    findings = [f for f in check(_graph(_sigmoid_gate), [XNNPACK, QDQ, TFLITE]) if f.code == "EXL610"]
    assert [(f.target, f.op) for f in findings] == [(XNNPACK, "aten.sigmoid.default")]
    lines, start = inspect.getsourcelines(_sigmoid_gate)
    line = start + next(i for i, text in enumerate(lines) if "torch.sigmoid" in text)
    assert findings[0].location.line == line and "no XNNPACKQuantizer annotator" in findings[0].message
    _, real = int8_outcome(*_sigmoid_gate())
    assert real["sigmoid"][0] == "float" and real["conv2d"][0] == real["mul"][0] == "quantized"


def test_litert_quantizes_the_sigmoid_xnnpack_leaves_float():
    pytest.importorskip("litert_torch")
    from exportlint.families.tflite import int8_outcome

    assert set(_predicted(_sigmoid_gate, TFLITE).values()) == {"quantized"}
    _, real = int8_outcome(*_sigmoid_gate())  # LOGISTIC with the fixed int8 scale 1/256
    assert {real[n][0] for n in ("conv2d", "sigmoid", "mul")} == {"quantized"}


def _residual_adds():
    import torch

    class Residual(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c, self.d = (torch.nn.Conv2d(4, 4, 3, padding=1) for _ in range(4))
            self.norm = torch.nn.LayerNorm(8)

        def forward(self, x):
            y = self.a(x)
            between = y + self.b(y)  # both inputs and its one reader (c) quantized
            read_float = self.c(between) + y  # read by the layer norm, which takes it in float
            after_float = self.norm(read_float) + y  # one input float
            return self.d(torch.relu(after_float))  # the relu's input is float, though its reader quantizes it

    torch.manual_seed(0)
    return Residual().eval(), (torch.randn(1, 4, 8, 8),)


def test_litert_quantizes_an_add_only_between_quantized_ops_and_the_prediction_agrees():
    """torch.export's graph has no source_fn_stack, so litert-torch's add annotator (operator.add, torch.add) takes
    nothing: the converter quantizes an add only between a dequantize and a quantize."""
    pytest.importorskip("litert_torch")
    from exportlint.families.tflite import int8_outcome

    predicted = _predicted(_residual_adds, TFLITE)
    _, real = int8_outcome(*_residual_adds())
    expected = {"add": "quantized", "add_1": "float", "add_2": "float", "relu": "float", "conv2d_3": "quantized"}
    assert {n: predicted[n] for n in expected} == expected
    assert {n: real[n][0] for n in expected} == expected


def test_nncf_and_the_cpu_plugin_quantize_conv_bn_relu_linear_and_leave_a_softmax_float_as_predicted():
    """The runtime graph of the compiled int8 model decides: every layer made from a node runs at u8/i8, or not."""
    pytest.importorskip("nncf")
    from exportlint.families.openvino import int8_outcome, run_int8

    predicted = _predicted(_conv_bn_relu_linear, OPENVINO)
    assert set(predicted.values()) == {"quantized"}, predicted
    artifact, real = int8_outcome(*_conv_bn_relu_linear())
    model, inputs = _conv_bn_relu_linear()
    assert run_int8(artifact, inputs, [model(*inputs)]) is None
    # the convolution, renamed when the batch norm is folded into it, is found through its reader
    assert {n: s for n, (s, _) in real.items()} == predicted

    findings = [f for f in check(_graph(_softmax_between_linears), [OPENVINO]) if f.code == "EXL610"]
    assert [f.op for f in findings] == ["aten.softmax.int"]
    _, real = int8_outcome(*_softmax_between_linears())
    assert {n: s for n, (s, _) in real.items()} == {"linear": "quantized", "softmax": "float", "linear_1": "quantized"}
    assert _predicted(_softmax_between_linears, OPENVINO) == {n: s for n, (s, _) in real.items()}


def test_the_summary_numbers_are_right_by_hand():
    from exportlint.report.json import finding_dict

    (summary,) = [f for f in check(_graph(_tiny), [XNNPACK]) if f.code == "EXL612"]
    data = dict(summary.data)
    macs = 4 * 6 * 6 * (3 * 3 * 3) + 5 * 144  # conv: out elements x Cin x k x k; linear: out x in
    weights, biases = 4 * 3 * 3 * 3 + 5 * 144, 4 + 5
    assert data["macs"] == data["macs_int8"] == macs == 4608
    assert data["params"] == weights + biases and data["params_int8"] == weights
    assert (data["bytes_fp32"], data["bytes_fp16"], data["bytes_int8"]) == (
        4 * (weights + biases), 2 * (weights + biases), weights + 4 * biases)
    assert data["quantized"] == data["ops"] == 4 and data["kept_float"] == ()
    assert "100% of MACs (4,608 of 4,608)" in summary.message and "fully quantized" in summary.message
    assert finding_dict(summary)["data"]["macs"] == macs


def test_a_precision_target_still_gets_its_base_targets_checks():
    from exportlint.checks.operator_support import _custom_op

    model, inputs = _custom_op()
    from exportlint.capture.pytorch import capture_torch
    from exportlint.options import Options

    graph = capture_torch(model.eval(), inputs, Options(), "custom")
    base = [f.op for f in check(graph, ["executorch:xnnpack"], decide="static") if f.code == "EXL101" and f.blocking]
    quantized = [f.op for f in check(graph, [XNNPACK], decide="static") if f.code == "EXL101" and f.blocking]
    assert base and quantized == base


def test_coreml_w8_stores_in_int8_only_the_weights_above_coremltools_threshold_as_coremltools_does():
    pytest.importorskip("coremltools")
    from exportlint.families.coreml import int8_outcome

    predicted = _predicted(_small_stem, W8)
    assert predicted == {"conv2d": "float", "linear": "quantized"}  # 216 weights kept in float16, 18,432 int8
    _, real = int8_outcome(*_small_stem())  # converted and compressed by coremltools (prediction needs macOS)
    assert {n: s for n, (s, _) in real.items()} == predicted
    (summary,) = [f for f in check(_graph(_small_stem), [W8]) if f.code == "EXL612"]
    data = dict(summary.data)
    assert (data["params"], data["params_int8"]) == (216 + 8 + 18432 + 64, 18432)
    assert "1 of 2 ops with weights store them in int8" in summary.message and "kept in float16: conv2d x1" in (
        summary.message)
    assert "MACs" not in summary.message  # weight-only: compute stays float16


def test_nncf_fails_on_an_embedding_of_indices_gathered_from_buffers_as_predicted():
    pytest.importorskip("nncf")
    from exportlint.families.openvino import int8_outcome

    (finding,) = [f for f in check(_graph(_constant_token_types), [OPENVINO, XNNPACK]) if f.code == "EXL611"]
    assert finding.target == OPENVINO and finding.op == "aten.gather.default"
    assert "model_type=nncf.ModelType.TRANSFORMER" in finding.message
    with pytest.raises(KeyError, match="embedding"):  # NNCF's quantizer setup, with its default model_type
        int8_outcome(*_constant_token_types())


def test_nncf_keeps_a_squeeze_excite_block_float_by_its_ignored_pattern_as_predicted():
    pytest.importorskip("nncf")
    from nncf.common.graph.patterns.patterns import IgnoredPatternNames
    from nncf.openvino.quantization.ignored_patterns import OPENVINO_IGNORED_PATTERNS

    from exportlint.families.openvino import int8_outcome

    assert IgnoredPatternNames.SE_BLOCK in OPENVINO_IGNORED_PATTERNS.registry_dict  # the pattern SE_BLOCK encodes
    predicted = _predicted(_squeeze_excite, OPENVINO)
    _, real = int8_outcome(*_squeeze_excite())
    assert {n: s for n, (s, _) in real.items()} == {n: s for n, s in predicted.items() if n in real}
    assert [n for n, s in predicted.items() if s == "float"] == ["conv2d_1", "relu_1", "conv2d_2", "sigmoid"]
