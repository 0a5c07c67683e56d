"""Float16 readiness on real models: EXL601 (constants beyond float16), EXL602 (the float16 run) and
the finite-mask-fill fix, on a hand-written attention, a tiny BERT from transformers and plain CNNs."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest

from conftest import EXAMPLES, capture_path, check

torch = pytest.importorskip("torch")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the tiny BERT is built from a config, never downloaded

FP16 = ["coreml:iOS16", "tflite:gpu"]
ATTENTION = EXAMPLES / "fp16_attention.py"


@cache
def _capture(spec: str):
    """`examples/<spec>` captured for the float16 targets (the float16 run is part of the capture)."""
    from exportlint.options import Options
    from exportlint.targets import parse_target

    return capture_path(str(EXAMPLES / spec), Options(targets=[parse_target(t) for t in FP16], recapture=False))


def _fp16_findings(spec: str, targets=FP16):
    return [f for f in check(_capture(spec), list(targets)) if f.code.startswith("EXL6")]


def _line(path: Path, line: int) -> str:
    return path.read_text(encoding="utf-8").splitlines()[line - 1]


def test_hand_attention_finds_the_constant_and_the_nan_at_the_mask_line():
    from exportlint.engine.rule import Applicability, Severity

    findings = _fp16_findings("fp16_attention.py:build")
    by = {(f.code, f.target): f for f in findings}
    assert set(by) == {(c, t) for c in ("EXL601", "EXL602") for t in FP16}
    for f in findings:
        assert Path(f.location.path) == ATTENTION and "scores.masked_fill(" in _line(ATTENTION, f.location.line)
    constant, run = by["EXL601", "coreml:iOS16"], by["EXL602", "coreml:iOS16"]
    assert "torch.finfo(torch.float32).min in masked_fill" in constant.message
    assert "compute_precision=ct.precision.FLOAT32" in constant.message
    assert constant.fix.applicability is Applicability.UNSAFE
    assert run.severity is Severity.WARNING and not run.blocking and "outputs are not finite" in run.message
    softmax = next(i for i, text in enumerate(ATTENTION.read_text().splitlines(), 1) if ".softmax(" in text)
    assert f"(NaN first at softmax, line {softmax})" in run.message
    assert "TFLITE_GPU_INFERENCE_PRIORITY_MAX_PRECISION" in by["EXL602", "tflite:gpu"].message


def test_float32_targets_are_not_checked():
    assert not _fp16_findings("fp16_attention.py:build", ["onnx:18", "tflite", "executorch:xnnpack"])


def test_tiny_bert_mask_overflows_in_the_library_and_nans_at_softmax():
    pytest.importorskip("transformers")
    from transformers.models.bert import modeling_bert

    from exportlint.engine.rule import Severity

    findings = _fp16_findings("fp16_attention.py:tiny_bert", ["coreml:iOS16"])
    assert {f.code for f in findings} == {"EXL601", "EXL602"}
    bert = Path(modeling_bert.__file__)
    for f in findings:  # BertModel builds its additive mask with torch.where(..., finfo(float32).min)
        assert f.op == "aten.where.ScalarOther" and Path(f.location.path) == bert
        assert "_create_attention_masks(" in _line(bert, f.location.line)
    run = next(f for f in findings if f.code == "EXL602")
    assert run.severity is Severity.WARNING and "outputs are not finite" in run.message
    nan_line = int(run.message.split("NaN first at softmax, line ")[1].split(")")[0])
    assert "attention_interface(" in _line(bert, nan_line)  # eager_attention_forward's softmax, inlined


def test_drift_is_a_warning_with_the_measured_error():
    from exportlint.capture.pytorch import capture_torch
    from exportlint.capture.fp16 import DRIFT
    from exportlint.checks.fp16_run import _cancellation
    from exportlint.engine.rule import Severity
    from exportlint.options import Options
    from exportlint.targets import parse_target

    graph = capture_torch(*_cancellation(), Options(targets=[parse_target("coreml:iOS16")], recapture=False),
                          "cancellation")
    found, = [f for f in check(graph, ["coreml:iOS16"]) if f.code.startswith("EXL6")]
    assert found.code == "EXL602" and found.severity is Severity.WARNING and found.op == "aten.sub.Tensor"
    measured = float(found.message.split("differs from float32 by ")[1].split("%")[0]) / 100
    assert measured > DRIFT and "compute_precision=ct.precision.FLOAT32" in found.message


def _resnet_block():
    from torch import nn

    class Basic(nn.Module):
        def __init__(self, c=16):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
            self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(x + self.bn2(self.conv2(y)))

    torch.manual_seed(0)
    return Basic().eval(), (torch.randn(2, 16, 16, 16),)


def test_plain_cnns_give_no_fp16_finding():
    from exportlint.capture.pytorch import capture_torch
    from exportlint.options import Options
    from exportlint.targets import parse_target

    assert not _fp16_findings("mobilenet_block.py:build")
    assert _capture("mobilenet_block.py:build").capture.fp16.output_drift < 1e-3  # it ran
    options = Options(targets=[parse_target(t) for t in FP16], recapture=False)
    graph = capture_torch(*_resnet_block(), options, "resnet_block")
    assert graph.capture.fp16 is not None and not [f for f in check(graph, FP16) if f.code.startswith("EXL6")]


def _load(factory: str):
    from exportlint.capture.pytorch import load_spec

    return load_spec(f"{ATTENTION}:{factory}", [], [])


@pytest.mark.parametrize("factory, op", [("build", "masked_fill"), ("tiny_bert", "where")])
def test_finite_mask_fill_removes_the_nan(factory, op):
    if factory == "tiny_bert":
        pytest.importorskip("transformers")
    from exportlint.capture.fp16 import compare_fp16
    from exportlint.fix.measure import diff
    from exportlint.fix.torch_passes import FiniteMaskFill, editable, op_names

    model, inputs = _load(factory)
    program = torch.export.export(model, inputs)
    assert compare_fp16(program).outputs_bad
    gm = editable(program)
    result = FiniteMaskFill()(gm)
    assert result.modified and result.rewritten == [op]
    assert set(op_names(result.model)) <= set(op_names(gm))  # the same ops, less what was dead already
    result.model.graph.lint()
    fixed = compare_fp16(torch.export.export(result.model, inputs))
    assert fixed.overflow is None and fixed.first_nan is None and not fixed.outputs_bad
    with torch.no_grad():
        ref, new = model(*inputs), result.model(*inputs)
    ref, new = (ref[0], new[0]) if factory == "tiny_bert" else (ref, new)
    # float32: the real sequence is unchanged; the all-padding one (garbage either way) may change
    # (a uniform softmax over -3.4e38 + s becomes softmax(s) over -1e4 + s).
    assert diff(new[0].numpy(), ref[0].numpy()).max_abs < 1e-5


def test_json_carries_the_findings():
    from exportlint.options import Options
    from exportlint.report.json import render
    from exportlint.run import check_specs
    from exportlint.targets import parse_target

    options = Options(targets=[parse_target("coreml:iOS16")], decide="static", recapture=False)
    data = json.loads(render(check_specs([f"{ATTENTION}:build"], options, [], [])))
    found = {f["code"]: f for f in data["findings"] if f["code"].startswith("EXL6")}
    assert set(found) == {"EXL601", "EXL602"}
    assert found["EXL602"]["severity"] == "warning" and found["EXL601"]["fix"]["applicability"] == "unsafe"
    assert {f["location"]["line"] for f in found.values()} == {
        next(i for i, t in enumerate(ATTENTION.read_text().splitlines(), 1) if "scores.masked_fill(" in t)}


def test_meta_device_models_are_not_run():
    from exportlint.capture.pytorch import capture_torch
    from exportlint.options import Options
    from exportlint.targets import parse_target

    with torch.device("meta"):
        model, x = torch.nn.Linear(4, 4), torch.randn(1, 4)
    options = Options(targets=[parse_target("coreml:iOS16")], recapture=False)
    graph = capture_torch(model, (x,), options, "meta")
    assert graph.capture.ok and graph.capture.fp16 is None and graph.capture.fp16_error is None


def test_the_run_is_a_capture_fact_kept_by_the_cache():
    from exportlint.ir.serial import graph_from_data, graph_to_data

    from exportlint.capture.pytorch import capture_torch
    from exportlint.options import Options
    from exportlint.targets import parse_target

    model, inputs = _load("build")
    assert capture_torch(model, inputs, Options(recapture=False), "m").capture.fp16 is None  # onnx:18 only
    graph = capture_torch(model, inputs, Options(targets=[parse_target("tflite:gpu")], recapture=False), "m")
    again = graph_from_data(json.loads(json.dumps(graph_to_data(graph))))
    assert again.capture.fp16 == graph.capture.fp16 and again.capture.fp16.outputs_bad
    assert check(again, ["tflite:gpu"]) == check(graph, ["tflite:gpu"])


def test_float64_buffers_run_and_never_block():
    """Ops that insist on a float64 buffer's dtype compute in it (then round to float16): the model converts, so
    whatever the float16 run finds (or cannot run) is a warning, never a blocked Core ML verdict."""
    from exportlint.capture.pytorch import capture_torch
    from exportlint.options import Options
    from exportlint.targets import parse_target

    class Double(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", torch.linspace(0.5, 1.5, 8, dtype=torch.float64))

        def forward(self, x):
            return (x.double().cumsum(-1) * self.scale).float()

    options = Options(targets=[parse_target("coreml:iOS16")], recapture=False)
    graph = capture_torch(Double().eval(), (torch.randn(2, 8),), options, "double")
    assert graph.capture.fp16_error is None and graph.capture.fp16 is not None
    findings = check(graph, ["coreml:iOS16"])
    assert not [f for f in findings if f.blocking or f.code == "EXL000"], findings
