"""`fix_model` on the bundled examples: the findings it claims to clear are gone, the real converters
accept the fixed model, and the printed differences match an independent recomputation."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from exportlint.capture.spec import call_factory  # noqa: E402
from exportlint.options import Options  # noqa: E402
from exportlint.fix.apply import fix_model, render_fix_result  # noqa: E402
from exportlint.fix.loop import FindingKey, FixStatus  # noqa: E402
from exportlint.fix.measure import random_like  # noqa: E402
from exportlint.targets import parse_target  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MOBILENET = str(EXAMPLES / "mobilenet_block.py:build")
SHAPE_HEAD = str(EXAMPLES / "shape_head.py:build")


def _options(*targets: str, **kwargs) -> Options:
    return Options(targets=[parse_target(t) for t in targets], **kwargs)


def _status(result, name: str) -> FixStatus:
    return next(f.status for f in result.fixes if f.name == name)


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    out = tmp_path_factory.mktemp("fix") / "mobilenet.pt2"
    return fix_model(MOBILENET, _options("coreml:iOS15", "tflite"), out)


@pytest.fixture(scope="module")
def shape_head(tmp_path_factory):
    out = tmp_path_factory.mktemp("fix") / "shape_head.onnx"
    return fix_model(SHAPE_HEAD, _options("onnx:18"), out)


def test_mobilenet_fixes_clear_hard_activation_findings(mobilenet):
    for name in ("fold-batchnorm", "hardsigmoid-to-clamp", "hardswish-decompose"):
        assert _status(mobilenet, name) is FixStatus.APPLIED
    flagged = {FindingKey.of(f) for f in mobilenet.before if f.code == "EXL302"}
    assert {k.op for k in flagged} == {"aten.hardsigmoid.default", "aten.hardswish.default"}
    assert flagged <= set(mobilenet.cleared)
    assert not [f for f in mobilenet.after if f.code == "EXL302"]
    assert mobilenet.total.within_tolerance
    text = render_fix_result(mobilenet)
    assert "cleared: EXL302" in text and f"max abs {mobilenet.total.max_abs:.3g}" in text


def test_mobilenet_difference_matches_recomputation(mobilenet):
    model, inputs = call_factory(MOBILENET)
    fixed = torch.export.load(mobilenet.output).module()
    worst = 0.0
    with torch.no_grad():
        for xs in random_like(inputs):
            worst = max(worst, float((fixed(*xs) - model(*xs)).abs().max()))
    assert worst == pytest.approx(mobilenet.total.max_abs, rel=1e-6, abs=1e-12)


def test_coremltools_converts_fixed_model(mobilenet):
    ct = pytest.importorskip("coremltools")
    ep = torch.export.load(mobilenet.output).run_decompositions({})
    mlmodel = ct.convert(ep, minimum_deployment_target=ct.target.iOS15, convert_to="mlprogram")
    ops = {op.op_type for f in mlmodel._mil_program.functions.values() for op in f.operations}
    assert "clip" in ops and "sigmoid_hard" not in ops  # the rewritten activations, as Core ML's basic op


def test_litert_converts_and_runs_fixed_model(mobilenet):
    litert_torch = pytest.importorskip("litert_torch")
    from ai_edge_litert.interpreter import Interpreter

    model, inputs = call_factory(MOBILENET)
    fixed = torch.export.load(mobilenet.output).module()
    flatbuffer = litert_torch.convert(fixed, inputs).model_content()
    interpreter = Interpreter(model_content=flatbuffer)
    runner = interpreter.get_signature_runner()
    (name,) = runner.get_input_details()
    out = next(iter(runner(**{name: inputs[0].numpy()}).values()))
    assert np.allclose(out, model(*inputs).detach().numpy(), atol=1e-4)


def test_shape_head_fixes_clear_frozen_shapes_and_onnxruntime_runs(shape_head):
    import onnx
    import onnxruntime as ort

    assert _status(shape_head, "pool-to-adaptive") is FixStatus.APPLIED
    assert _status(shape_head, "view-to-flatten") is FixStatus.APPLIED
    for op in ("aten.avg_pool2d.default", "aten.view.default"):
        assert FindingKey("EXL201", "*", op) in shape_head.cleared
    onnx.checker.check_model(onnx.load(shape_head.output), full_check=True)
    model, inputs = call_factory(SHAPE_HEAD)
    session = ort.InferenceSession(str(shape_head.output), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: inputs[0].numpy()})
    assert np.allclose(out, model(*inputs).detach().numpy(), atol=1e-5)


def test_unsafe_fix_needs_the_flag_and_reports_its_difference(tmp_path):
    skipped = fix_model(MOBILENET, _options("coreml:iOS15"), tmp_path / "a.pt2", select=["hardsigmoid-to-sigmoid"])
    (fix,) = skipped.fixes
    assert fix.status is FixStatus.UNSAFE_SKIPPED and not fix.effect.within_tolerance
    assert skipped.total is None and skipped.cleared == {}
    applied = fix_model(MOBILENET, _options("coreml:iOS15"), tmp_path / "b.pt2", unsafe=True,
                        select=["hardsigmoid-to-sigmoid"])
    assert applied.fixes[0].status is FixStatus.APPLIED
    assert applied.total.max_abs == pytest.approx(fix.effect.max_abs, rel=1e-5)
    assert "max abs" in render_fix_result(applied)


def test_fix_an_onnx_file_through_onnxscript(tmp_path):
    model, inputs = call_factory(SHAPE_HEAD)
    logging.disable(logging.WARNING)
    try:
        torch.onnx.export(model, inputs, dynamo=True, opset_version=18, verbose=False).save(str(tmp_path / "in.onnx"))
    finally:
        logging.disable(logging.NOTSET)
    result = fix_model(str(tmp_path / "in.onnx"), _options("onnx:18"), tmp_path / "out.onnx")
    assert _status(result, "pool-to-adaptive") is FixStatus.APPLIED
    assert result.total.within_tolerance and (tmp_path / "out.onnx").is_file()


def test_bad_output_suffix_is_a_usage_error(tmp_path):
    from exportlint.errors import UsageError

    with pytest.raises(UsageError):
        fix_model(SHAPE_HEAD, _options("onnx:18"), tmp_path / "x.tflite")
    with pytest.raises(UsageError, match="unknown fix"):
        fix_model(SHAPE_HEAD, _options("onnx:18"), tmp_path / "x.pt2", select=["no-such-fix"])


SUPPRESSED = '''\
import torch
import torch.nn.functional as F


class Net(torch.nn.Module):
    def forward(self, x):
        x = F.hardswish(x)  # exportlint: ignore[EXL302]
        return F.hardswish(x + 1)


def build():
    return Net().eval(), (torch.randn(1, 3, 8, 8),)
'''


def test_graph_fixes_leave_suppressed_nodes_alone(tmp_path):
    """As `fix FILE` leaves a suppressed line alone, a graph rewrite keeps the node of a suppressed finding."""
    (tmp_path / "net.py").write_text(SUPPRESSED)
    result = fix_model(f"{tmp_path / 'net.py'}:build", _options("coreml:iOS15"), tmp_path / "out.pt2")
    (decompose,) = [f for f in result.fixes if f.name == "hardswish-decompose"]
    assert decompose.status is FixStatus.APPLIED and len(decompose.rewritten) == 1
    assert [r.reason for r in decompose.refused] == ["its finding is suppressed"]
    assert not [f for f in result.after if f.code == "EXL302"]  # the kept one is still suppressed
