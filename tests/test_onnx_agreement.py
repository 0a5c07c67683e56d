"""The ONNX verdicts agree with the real torch.onnx.export on the bundled examples.

Real verdict for `onnx:N`: one of torch's exporters (default dynamo, or legacy `dynamo=False`) gives a
model whose default-domain opset is <= N, that `onnx.checker` accepts and ONNX Runtime runs with
PyTorch's numbers (`exportlint.confirm.onnx_exports`, the confirm mode's check).
examples/packed_lstm.py is left out on purpose: exportlint blocks it for every target (EXL001/EXL301)
because the legacy trace freezes the example's sequence lengths, which an export that "works" hides.
"""

from __future__ import annotations

import pytest
import torch

from conftest import EXAMPLES, capture_example, check
from exportlint.capture.spec import call_factory
from exportlint.confirm import onnx_exports
from exportlint.engine.rule import Severity
from exportlint.tables.probe.onnx_runner import default_opset

CASES = [("shape_head.py:build_warp", 13), ("shape_head.py:build_warp", 17),
         ("mobilenet_block.py:build", 13), ("mobilenet_block.py:build", 17), ("shape_head.py:build", 13)]


@pytest.mark.parametrize("spec, opset", CASES, ids=[f"{s}@{o}" for s, o in CASES])
def test_verdict_matches_real_exporters(spec, opset):
    target = f"onnx:{opset}"
    findings = check(capture_example(spec), [target])
    ours = not any(f.severity is Severity.ERROR and f.target in (None, target) for f in findings)
    real = onnx_exports(*call_factory(str(EXAMPLES / spec)), opset)
    assert ours == any(v == "supported" for v in real.values()), (real, [f.message for f in findings])
    if ours and real["dynamo"] != "supported":
        # exportable only through the legacy exporter: exportlint must say so
        assert any(f.code == "EXL101" and f.severity is Severity.WARNING and "dynamo=False" in f.message
                   for f in findings if f.target == target)


def test_default_exporter_silently_returns_opset_18_for_grid_sample():
    model, inputs = call_factory(str(EXAMPLES / "shape_head.py:build_warp"))
    program = torch.onnx.export(model, inputs, dynamo=True, opset_version=13, verbose=False)
    assert default_opset(program.model_proto) == 18  # asked for 13, no error
    (finding,) = [f for f in check(capture_example("shape_head.py:build_warp"), ["onnx:13"]) if f.code == "EXL101"]
    assert "supported from opset 16" in finding.message
    assert (EXAMPLES / "shape_head.py").read_text().splitlines()[finding.location.line - 1].strip().startswith(
        "x = F.grid_sample(")
