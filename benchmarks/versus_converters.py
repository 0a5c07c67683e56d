"""exportlint's check against running the real converters, on the bundled examples.

    python benchmarks/versus_converters.py

For each example: the time of `exportlint check` (capture + every rule, 4 targets, in-process, after
a warm-up) in each decision mode — `static` (tables only) and `auto` (the default: the ONNX paths'
translation, and the converter of any path the tables cannot decide) — and of each real converter
on every conversion path of the same model (`exportlint.decide` in `confirm` mode: torch.onnx.export
+ checker + ONNX Runtime per exporter, coremltools.convert of the ExportedProgram and of the trace,
litert_torch.convert + the LiteRT interpreter), and their ratio.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from exportlint.capture.pytorch import load_spec
from exportlint.options import Options
from exportlint.decide import Subject, decide
from exportlint.run import check_specs
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
        check_specs([spec], replace(options, decide="static"), [], [])  # warm-up: imports, first export
        print(f"{Path(spec).name}:")
        modes = {}
        for mode in ("static", "auto"):
            modes[mode], report = _timed(lambda: check_specs([spec], replace(options, decide=mode), [], []))
            verdicts = ", ".join(f"{t.target}={'ok' if t.exportable else 'blocked'}" for t in report.models[0].targets)
            print(f"  exportlint check --{mode}, {len(TARGETS)} targets: {modes[mode]:.2f} s ({verdicts})")
        subject = Subject(*load_spec(spec, [], []))
        total = 0.0
        for target in TARGETS[:3]:  # TensorRT needs a GPU: table only
            seconds, runs = _timed(lambda: decide(subject, [target], "confirm"))
            total += seconds
            outcome = ", ".join(f"{d.path}={d.converted}" for d in runs)
            print(f"  {target}: real converters {seconds:.2f} s ({outcome})")
        print(f"  all converters: {total:.2f} s = {total / modes['static']:.1f}x the static check, "
              f"{total / modes['auto']:.1f}x the default check")


if __name__ == "__main__":
    main()
