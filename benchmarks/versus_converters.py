"""exportlint's check against running the real converters, on the bundled examples.

    python benchmarks/versus_converters.py

For each example: the time of `exportlint check` (capture + every rule, 4 targets, in-process, after
a warm-up) and of each real converter on the same model (`exportlint.confirm`: torch.onnx.export +
checker + ONNX Runtime, coremltools.convert, litert_torch.convert), and their ratio.
"""

from __future__ import annotations

import time
from pathlib import Path

from exportlint.capture.pytorch import load_spec
from exportlint.config import Options
from exportlint.confirm import confirm
from exportlint.report import Report
from exportlint.run import capture, check_graph
from exportlint.targets import parse_target

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SPECS = ["shape_head.py:build_warp", "mobilenet_block.py:build"]
TARGETS = [parse_target(t) for t in ("onnx:17", "coreml:iOS16", "tflite", "tensorrt:10")]


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    options = Options(targets=TARGETS)
    for spec in (str(EXAMPLES / s) for s in SPECS):
        capture(spec, options, [], [])  # warm-up: imports, first torch.export
        report = Report()
        ours, _ = _timed(lambda: check_graph(capture(spec, options, [], [])[0], options, report))
        model, inputs = load_spec(spec, [], [])
        print(f"{Path(spec).name}: exportlint check, {len(TARGETS)} targets: {ours:.2f} s")
        total = 0.0
        for target in TARGETS[:3]:  # TensorRT needs a GPU: table only
            seconds, (result,) = _timed(lambda: confirm(model, inputs, [target], report))
            total += seconds
            print(f"  {target}: real converter {seconds:.2f} s ({seconds / ours:.1f}x the check); "
                  f"converted={result.converted}, static verdict exportable={result.static_exportable}")
        print(f"  three converters: {total:.2f} s = {total / ours:.1f}x the check")


if __name__ == "__main__":
    main()
