"""EXL203: dims marked dynamic that a target needs static, or bounded."""

from __future__ import annotations

from typing import Iterable

from exportlint.options import DynamicDim
from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import OpGraph
from exportlint.targets import Target


def _conv():
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return self.conv(x).relu()  # expect: EXL203

    return Net(), (torch.randn(2, 3, 16, 16),)


def _dynamic(name: str, low: int | None = None, high: int | None = None) -> dict:
    return {"dynamic": [DynamicDim(0, 0, name, low, high)]}


class UnsupportedDynamicDim(GraphRule):
    """
    ## What it does
    Checks the dims you marked dynamic (`--dynamic IN:DIM[=NAME][:MIN..MAX]`) against what each
    target accepts: the TFLite GPU delegate needs every shape static; Core ML flexible shapes and
    TensorRT optimization profiles need a range (a minimum and a maximum).

    ## Why is this bad?
    The GPU delegate plans its kernels once for static shapes and refuses the graph, or the whole
    model falls back to the CPU. Core ML runs unbounded flexible shapes on the CPU only (the Neural
    Engine and GPU need a bounded `ct.RangeDim` or enumerated shapes). TensorRT builds an engine
    per optimization profile and must know each dynamic dim's min, opt and max.

    ## Example
    `exportlint check model.py:build --dynamic 0:0=batch --target tflite:gpu --target coreml`

    ## Use instead
    A static size for the GPU delegate (one model per size), and a range elsewhere:
    `--dynamic 0:0=batch:1..32` (then `ct.RangeDim(1, 32)`, TensorRT profile min=1, max=32).

    ## Fix safety
    No fix: the range is a deployment decision.
    """

    code = "EXL203"
    slug = "unsupported-dynamic-dim"
    summary = "A dim marked dynamic where the target needs static shapes or a bounded range."
    severity = Severity.ERROR
    invalid = (Example(build=_conv, targets=("tflite:gpu",), options=_dynamic("batch", 1, 8)),
               Example(build=_conv, targets=("coreml:iOS16", "tensorrt:10"), options=_dynamic("batch")))
    valid = (Example(build=_conv, targets=("coreml:iOS16", "tensorrt:10"), options=_dynamic("batch", 1, 8)),
             Example(build=_conv, targets=("tflite:gpu",)))

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        inputs = graph.inputs()
        for dim in ctx.options.dynamic:
            if dim.name in graph.capture.specialized or dim.input >= len(inputs):
                continue  # came out static: EXL201 reports it
            where = graph.use_location(inputs[dim.input])
            for target in ctx.targets:
                problem = _problem(dim, target)
                if problem:
                    severity, text = problem
                    yield self.finding(graph, f"dim {dim.name!r} (input {dim.input}, dim {dim.dim}) is "
                                       f"dynamic: {text}", target=target, location=where, severity=severity)


def _problem(dim: DynamicDim, target: Target) -> tuple[Severity, str] | None:
    """The target family's dynamic-shape policy (`Family.dynamic_problem`)."""
    problem = target.unit.dynamic_problem(dim, target.version)
    return (Severity(problem[0]), problem[1]) if problem else None
