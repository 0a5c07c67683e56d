"""EXL601: constants beyond float16's range, and exp of an input that a constant scales past it."""

from __future__ import annotations

import math
from typing import Iterable

from exportlint.engine.rule import Applicability, Context, Example, Finding, Fix, GraphRule, Severity
from exportlint.ir import OpGraph, OpNode
from exportlint.targets import Target

FP16_MAX = 65504.0  # torch.finfo(torch.float16).max
FP32_MAX = 3.4028234663852886e38  # torch.finfo(torch.float32).max
FINITE_FILL = -1e4  # a mask fill finite in float16 whose softmax weight is 0 in float32 as well
# Ops that write a mask fill (`masked_fill`, `where`, `full`, `(1 - mask) * min`): the fix's scope.
MASK_FILLS = frozenset({"aten.masked_fill", "aten.where", "aten.full", "aten.full_like", "aten.new_full",
                        "aten.fill", "aten.mul"})
_BOUNDS = frozenset({"aten.clamp", "aten.clamp_min", "aten.clamp_max", "aten.clip", "aten.hardtanh"})  # ±inf: same bound
# exp-like ops and the input beyond which their output overflows float16.
_EXP_LIMITS = {"aten.exp": math.log(FP16_MAX), "aten.expm1": math.log(FP16_MAX), "aten.exp2": math.log2(FP16_MAX)}
_FIX = Fix(Applicability.UNSAFE, f"replace the mask fill by {FINITE_FILL:g} "
                                 "(`exportlint fix --unsafe-fixes`, pass finite-mask-fill)")


def overflowing_fill(value) -> bool:
    """A finite float below float16's range: what the finite-mask-fill pass replaces."""
    return isinstance(value, float) and math.isfinite(value) and value < -FP16_MAX


def _huge(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and abs(value) > FP16_MAX


def _masked_fp32_min():
    import torch

    class Attention(torch.nn.Module):
        def forward(self, q, k, mask):
            scores = q @ k.transpose(-1, -2)
            scores = scores.masked_fill(mask, torch.finfo(torch.float32).min)  # expect: EXL601
            return scores.softmax(-1) + torch.exp(q * 20.0).mean()  # expect: EXL601

    return Attention(), (torch.randn(1, 4, 8), torch.randn(1, 4, 8), torch.rand(1, 4, 4) > 0.5)


def _masked_finite():
    import torch

    class Attention(torch.nn.Module):
        def forward(self, q, k, mask):
            scores = (q @ k.transpose(-1, -2)).masked_fill(mask, torch.finfo(torch.float16).min)
            return scores.softmax(-1) + torch.exp(q * 2.0).mean() + (q * 1e-3 - 1e4).clamp(max=1e10).mean()

    return Attention(), (torch.randn(1, 4, 8), torch.randn(1, 4, 8), torch.rand(1, 4, 4) > 0.5)


class Fp16OverflowConstant(GraphRule):
    """
    ## What it does
    Finds constants beyond float16's range (|x| > 65504) in the captured graph, such as
    `torch.finfo(torch.float32).min` or `-1e9` as an attention-mask fill (`masked_fill`, `where`,
    `full`, `(1 - mask) * min`) or `x + 1e10`, and `exp(x * c)` / `exp(x + c)` where the constant
    `c` alone makes the output overflow float16 for inputs of magnitude 1. Reported for each target
    that computes in float16 by default: Core ML ML Programs, `tflite:gpu`, `executorch:coreml`.
    Bounds of `clamp` are not reported (an infinite bound means the same).

    ## Why is this bad?
    These targets store constants and compute in float16, whose largest finite value is 65504.
    `torch.finfo(torch.float32).min` becomes `-inf`: a softmax over a fully masked row is then
    `exp(-inf - -inf)` = NaN, and `0 * -inf` in `(1 - mask) * min` is NaN everywhere the mask is 1.
    The model is fine in PyTorch and gives NaN or inf on the device. `torch.finfo(x.dtype).min`
    does not help: the model is traced in float32, so it is float32's minimum.

    ## Example
    ```python
    scores = scores.masked_fill(mask, torch.finfo(torch.float32).min)
    ```

    ## Use instead
    ```python
    scores = scores.masked_fill(mask, -1e4)  # or torch.finfo(torch.float16).min
    ```
    or keep the op in float32 when converting (`compute_precision=ct.precision.FLOAT32`, or
    `ct.transform.FP16ComputePrecision(op_selector=...)`).

    ## Fix safety
    The graph fix `finite-mask-fill` (`exportlint fix --unsafe-fixes`) replaces mask fills below
    -65504 by -1e4. It is unsafe: the numbers change where a score is within 1e4 of the fill (in
    float32 a weight of exp(-1e4) is 0, so softmax outputs normally stay the same). Other
    constants have no automatic fix.

    ## Known problems
    Reads the constants of the graph's op arguments: a huge value inside a tensor (a buffer, a
    lifted `torch.tensor(-1e9)`) and activations that grow large at run time are not seen here;
    EXL602 runs the model in float16 and finds those.
    """

    code = "EXL601"
    slug = "fp16-overflow-constant"
    summary = "Constants beyond float16's range (finfo(float32).min mask fills, -1e9, 1e10) on float16 targets."
    severity = Severity.WARNING
    fix = Applicability.UNSAFE
    invalid = (Example(build=_masked_fp32_min, targets=("coreml:iOS16", "tflite:gpu")),)
    valid = (Example(build=_masked_finite, targets=("coreml:iOS16", "tflite:gpu")),
             Example(build=_masked_fp32_min, targets=("onnx:18", "tflite")))

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        targets = [t for t in ctx.targets if t.fp16]
        if not targets:
            return
        for node in graph.nodes():
            problem = _problem(graph, node)
            if problem is None:
                continue
            message, fix = problem
            where = None if node.location else graph.use_location(node)
            for target in targets:
                yield self.finding(graph, f"{message} on {target}, which computes in float16 by default. "
                                          f"{_advice(fix, target)}", node=node, target=target, location=where, fix=fix)


def _problem(graph: OpGraph, node: OpNode) -> tuple[str, Fix | None] | None:
    """(what overflows, the fix if the graph pass applies) for a node, or None."""
    if not node.outputs or not (node.outputs[0].dtype or "").startswith(("float", "bfloat")):
        return None
    op = node.base_op.removeprefix("aten.")
    if node.base_op not in _BOUNDS:
        for value in filter(_huge, node.args.values()):
            name = {-FP32_MAX: "torch.finfo(torch.float32).min", FP32_MAX: "torch.finfo(torch.float32).max"}.get(
                value, f"{value:g}")
            effect = " (a fully masked softmax row gives NaN, 0 * -inf is NaN)" if node.base_op in MASK_FILLS else ""
            fix = _FIX if node.base_op in MASK_FILLS and overflowing_fill(value) else None
            return f"{name} in {op} is beyond float16's range (±65504): it becomes {'-' if value < 0 else ''}inf" \
                   f"{effect}", fix
    limit = _EXP_LIMITS.get(node.base_op)
    scaled = next((p for p in graph.predecessors(node) if p.base_op in ("aten.mul", "aten.div", "aten.add")
                   and isinstance(p.args.get("other"), (int, float))), None) if limit else None
    if scaled is None:
        return None
    c = float(scaled.args["other"])
    c = 1 / c if scaled.base_op == "aten.div" and c else c
    shift = scaled.base_op == "aten.add"
    if (c if shift else abs(c)) <= limit:
        return None
    form, bound = (f"x + {c:g}", f"x ≥ {limit - c:.3g}") if shift else (f"x * {c:g}", f"|x| ≥ {limit / abs(c):.3g}")
    return f"{op}({form}) exceeds float16's largest value (65504) once {bound}", None


def _advice(fix: Fix | None, target: Target) -> str:
    if fix is not None:
        return f"Use a value finite in float16 (-1e4, torch.finfo(torch.float16).min), or {target.fp16}"
    return f"Rescale so that values stay below 65504 in float16, or {target.fp16}"
