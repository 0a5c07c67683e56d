"""EXL602: the captured program run in float16 beside float32 (`exportlint.capture.fp16`): the first op
whose output overflows to inf/NaN, or drifts from float32 beyond a tolerance."""

from __future__ import annotations

from typing import Iterable

from exportlint.capture.fp16 import DRIFT
from exportlint.checks.fp16_overflow import FP16_MAX, overflowing_fill
from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import HalfRun, OpGraph
from exportlint.targets import Target


def _fully_masked_row():
    import torch

    class Attention(torch.nn.Module):
        def forward(self, q, k, v, mask):
            scores = q @ k.transpose(-1, -2) / 8**0.5
            scores = scores.masked_fill(mask, torch.finfo(torch.float32).min)  # expect: EXL602
            return scores.softmax(-1) @ v

    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[:, 3] = True  # the last query row sees nothing: padding
    return Attention(), (torch.randn(1, 4, 8), torch.randn(1, 4, 8), torch.randn(1, 4, 8), mask)


def _cancellation():
    import torch

    class Center(torch.nn.Module):
        def forward(self, x):
            shifted = x + 1000.0  # float16 keeps 3 digits: steps of 0.5 at 1000
            return (shifted - 1000.0).relu()  # expect: EXL602

    return Center(), (torch.randn(2, 64),)


def _finite_mask():
    import torch

    class Attention(torch.nn.Module):
        def forward(self, q, k, v, mask):
            scores = (q @ k.transpose(-1, -2) / 8**0.5).masked_fill(mask, -1e4)
            return torch.nn.functional.layer_norm(scores.softmax(-1) @ v, (8,))

    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[:, 3] = True
    return Attention(), (torch.randn(1, 4, 8), torch.randn(1, 4, 8), torch.randn(1, 4, 8), mask)


def _conv_bn_relu():
    import torch
    from torch import nn

    torch.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    return block.eval(), (torch.randn(2, 3, 16, 16),)


class Fp16Run(GraphRule):
    """
    ## What it does
    For each target that computes in float16 by default (Core ML ML Programs, `tflite:gpu`,
    `executorch:coreml`), runs the captured `torch.export` program once on the example inputs in
    float32 and once in float16, op by op, and reports the first op whose float16 output has
    inf or NaN where float32 has finite values (saying whether the model's outputs end up
    non-finite), or else the first op whose output differs from float32 by more than 5% (relative
    L2 error). Warnings: the model converts; it is its numbers that break. Constants are rounded to float16 as
    a converter stores them; each op computes in float32 from the float16 values and its output is
    rounded to float16, as the CPU's float16 kernels do inside (and at float32 speed).

    ## Why is this bad?
    The converted model computes in float16, whose largest value is 65504 and whose precision is
    about 3 decimal digits. A fill value of `torch.finfo(torch.float32).min`, a sum of squares or
    an `exp` of large activations overflow; the device then returns NaN or inf that PyTorch never
    showed, or numbers far from the float32 ones.

    ## Example
    ```python
    scores = scores.masked_fill(mask, torch.finfo(torch.float32).min)  # -inf in float16
    attn = scores.softmax(-1)  # NaN in a fully masked row
    ```

    ## Use instead
    ```python
    scores = scores.masked_fill(mask, -1e4)
    ```
    or keep the op in float32 when converting (`compute_precision=ct.precision.FLOAT32`, or
    `ct.transform.FP16ComputePrecision(op_selector=...)` for the op reported).

    ## Fix safety
    No fix of its own; where EXL601 finds the constant, its graph fix replaces it.

    ## Known problems
    Runs only on what the example inputs reach: a fully masked row, a large activation that other
    inputs give, is not seen unless the example has one. The CPU's float16 kernels are not the
    device's (which may accumulate in float32, or fuse ops), so drift figures are an estimate.
    Needs a `torch.export` capture with real weights (not a meta-device model, not an .onnx file).
    """

    code = "EXL602"
    slug = "fp16-nan"
    summary = "Running in float16 on the example inputs gives inf/NaN, or drifts from float32, at this op."
    severity = Severity.WARNING
    invalid = (Example(build=_fully_masked_row, targets=("coreml:iOS16", "tflite:gpu")),
               Example(build=_cancellation, targets=("coreml:iOS16",)))
    valid = (Example(build=_finite_mask, targets=("coreml:iOS16", "tflite:gpu")),
             Example(build=_conv_bn_relu, targets=("coreml:iOS16", "tflite:gpu")),
             Example(build=_fully_masked_row, targets=("onnx:18", "tflite")))

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        run = graph.capture.fp16  # None: no float16 target at capture, not torch.export, meta device
        for target in (t for t in ctx.targets if t.fp16):
            if graph.capture.fp16_error:  # the model still converts: a warning that the check did not run
                yield self.finding(graph, f"could not run the model in float16 as on {target} "
                                          f"({graph.capture.fp16_error}): its float16 numbers are not checked",
                                   target=target)
            elif run is not None:
                yield from self._report(graph, run, target)

    def _report(self, graph: OpGraph, run: HalfRun, target: Target) -> Iterable[Finding]:
        if run.overflow is not None:
            name, what, count, largest = run.overflow
            node = graph.node(name)
            op = node.base_op.removeprefix("aten.")
            fill = any(overflowing_fill(v) for v in node.args.values())
            cause = (f"its constant below -{FP16_MAX:g} becomes -inf" if fill else
                     f"float32 gives finite values up to {largest:.3g} there, float16's largest is {FP16_MAX:g}")
            nan_at = ""
            if run.first_nan not in (None, name):
                later = graph.node(run.first_nan)
                nan_at = f" (NaN first at {later.base_op.removeprefix('aten.')}, {_where(graph, node, later)})"
            effect = (f"the model's outputs are not finite{nan_at}" if run.outputs_bad else
                      f"the outputs stay finite on the example inputs{nan_at}, but other inputs (a fully "
                      "masked row, larger activations) may not")
            advice = "Use a value finite in float16 (-1e4), or " if fill else "Rescale, or "
            yield self.finding(graph, f"run in float16 as on {target}, {op} gives {what} in {count} value(s) where "
                                      f"float32 is finite ({cause}); {effect}. {advice}{target.fp16}",
                               node=node, target=target,
                               location=None if node.location else graph.use_location(node))
        elif run.drift is not None:
            name, rel = run.drift
            node = graph.node(name)
            yield self.finding(graph, f"run in float16 as on {target}, "
                                      f"{node.base_op.removeprefix('aten.')}'s output differs from float32 by "
                                      f"{rel:.1%} (relative L2 error; tolerance {DRIFT:.0%}), the model's outputs by "
                                      f"{run.output_drift:.1%}. Keep this op in float32: {target.fp16}",
                               node=node, target=target,
                               location=None if node.location else graph.use_location(node))


def _where(graph: OpGraph, reported, node) -> str:
    """Where `node` is written, for the message of a finding at `reported`."""
    loc, here = (n.location or graph.use_location(n) for n in (node, reported))
    if loc is None:
        return f"node {node.name}"
    return f"line {loc.line}" + ("" if here and here.path == loc.path else f" of {loc.path}")
