"""The bundled examples show the pattern rules firing at the line where the pattern is written, with
a message that says what to write instead."""

from __future__ import annotations

from pathlib import Path

from conftest import EXAMPLES, capture_example, check


def _line(file: str, text: str) -> int:
    lines = (EXAMPLES / file).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def _found(spec: str, code: str, targets=("onnx:18",)) -> dict[int, list[str]]:
    by_line: dict[int, list[str]] = {}
    for f in check(capture_example(spec), list(targets)):
        if f.code == code:
            assert Path(f.location.path).resolve() == (EXAMPLES / spec.split(":")[0]).resolve()
            by_line.setdefault(f.location.line, []).append(f.message)
    return by_line


def test_shape_head_pool_and_view_read_sizes():
    found = _found("shape_head.py:build", "EXL201")
    pool = _line("shape_head.py", "F.avg_pool2d(x, x.size()[2:])")
    view = _line("shape_head.py", "x.view(x.size(0), -1)")
    assert set(found) == {pool, view}
    assert "kernel_size=[32, 32]" in found[pool][0] and "F.adaptive_avg_pool2d(x, 1)" in found[pool][0]
    assert "size=[2, -1]" in found[view][0] and "torch.flatten(x, 1)" in found[view][0]
    assert "only correct for input 2x3x32x32" in found[view][0]
    # both lines are ones the source fix rewrites: the graph findings carry it ([*])
    from exportlint.options import Options
    from exportlint.report import Report
    from exportlint.run import check_graph

    report = Report()
    check_graph(capture_example("shape_head.py:build"), Options(), report)
    fixes = [f.fix for f in report.findings if f.code == "EXL201"]
    assert len(fixes) == 2 and all(f is not None and f.applicability.value == "safe" for f in fixes)


def test_packed_lstm_packs_in_eval_mode():
    found = _found("packed_lstm.py:build", "EXL301")
    assert set(found) == {_line("packed_lstm.py", "packed = pack_padded_sequence("),
                          _line("packed_lstm.py", "pad_packed_sequence(out")}
    message = next(iter(found.values()))[0]
    assert "torch.export cannot capture packed sequences" in message and "padded batch" in message


def test_mobilenet_block_exotic_activations_per_target():
    """Pinned to what the one-op conversions recorded (rules/tables): hard-sigmoid becomes ADD+MUL in
    TFLite, hard-swish becomes HardSigmoid+Mul at ONNX opset 13 (legacy exporter) and three MIL ops in
    Core ML; ONNX 18 has HardSwish and HardSigmoid as single ops."""
    from exportlint.engine.rule import Severity

    targets = ["coreml:iOS16", "tflite", "onnx:13", "onnx:18"]
    findings = [f for f in check(capture_example("mobilenet_block.py:build"), targets) if f.code == "EXL302"]
    gate = _line("mobilenet_block.py", "self.gate(self.expand(s))")
    swish = {_line("mobilenet_block.py", "y = self.depthwise(self.expand(x))"),  # where the blocks run
             _line("mobilenet_block.py", "x = self.features(self.stem(x))")}
    expected = {("tflite", gate)} | {(t, line) for t in ("coreml:iOS16", "onnx:13") for line in swish}
    assert {(f.target, f.location.line) for f in findings} == expected  # one per line, blocks reused
    assert all(f.severity is Severity.WARNING for f in findings)
    (gated,) = [f for f in findings if f.location.line == gate]
    assert "as 2 ops (ADD, MUL)" in gated.message and "torch.sigmoid(x)" in gated.message
