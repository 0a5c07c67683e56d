"""The ONNX verdicts agree with the real torch.onnx.export on the bundled examples, per conversion path.

Real verdict for `onnx:N` and a path (the default `dynamo` exporter, or the TorchScript exporter,
`dynamo=False`): the exporter gives a model whose default-domain opset is N, that `onnx.checker`
accepts and ONNX Runtime runs with PyTorch's numbers (`exportlint.decide`, what --confirm runs).
The static verdict (`decide="static"`: tables only, the dynamo path on torch.export's graph, the
TorchScript path on torch.jit.trace's) must match it path by path.
examples/packed_lstm.py is left out: its TorchScript export "works" with the example's sequence
lengths frozen in (EXL301 warns); the verdict there follows the converter, the warning the meaning.
"""

from __future__ import annotations

import pytest
import torch

from conftest import EXAMPLES, capture_example, check
from exportlint.capture.spec import call_factory
from exportlint.options import Options
from exportlint.decide import Subject, decide
from exportlint.run import check_specs
from exportlint.tables.probe.onnx_runner import default_opset
from exportlint.targets import parse_target

CASES = [("shape_head.py:build_warp", 13), ("shape_head.py:build_warp", 17),
         ("mobilenet_block.py:build", 13), ("mobilenet_block.py:build", 17), ("shape_head.py:build", 13)]


@pytest.mark.parametrize("spec, opset", CASES, ids=[f"{s}@{o}" for s, o in CASES])
def test_static_verdict_per_path_matches_real_exporters(spec, opset):
    target = parse_target(f"onnx:{opset}")
    report = check_specs([str(EXAMPLES / spec)], Options(targets=[target], decide="static"), [], [])
    (summary,) = report.models[0].targets
    ours = {p.path: p.exportable for p in summary.paths}
    real = {d.path: d.converted for d in decide(Subject(*call_factory(str(EXAMPLES / spec))), [target], "confirm")}
    assert ours == real, ([d for d in summary.paths], real)
    assert summary.exportable == any(real.values())


def test_default_exporter_silently_returns_opset_18_for_grid_sample():
    model, inputs = call_factory(str(EXAMPLES / "shape_head.py:build_warp"))
    program = torch.onnx.export(model, inputs, dynamo=True, opset_version=13, verbose=False)
    assert default_opset(program.model_proto) == 18  # asked for 13, no error
    grid = [f for f in check(capture_example("shape_head.py:build_warp"), ["onnx:13"])
            if f.code == "EXL101" and f.op and "grid_sampler" in f.op]
    assert grid and all("supported from opset 16" in f.message for f in grid)
    assert (EXAMPLES / "shape_head.py").read_text().splitlines()[grid[0].location.line - 1].strip().startswith(
        "x = F.grid_sample(")
