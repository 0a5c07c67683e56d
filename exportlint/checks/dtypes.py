"""EXL102: float64 / int64 tensors on targets that narrow or reject them."""

from __future__ import annotations

from typing import Iterable

from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import NodeKind, OpGraph, OpNode
from exportlint.tables import Status, Verdict, dtype_support
from exportlint.targets import Target

_WIDE = ("float64", "int64")


def _double():
    import torch

    class Scale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", torch.ones(8, dtype=torch.float64))

        def forward(self, x):
            y = x.double().cumsum(-1)  # expect: EXL102
            return (y * self.scale).float()

    return Scale(), (torch.randn(2, 8),)


def _single():
    import torch

    class Scale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", torch.ones(8))

        def forward(self, x):
            return x.cumsum(-1) * self.scale + x.argmax(-1, keepdim=True)

    return Scale(), (torch.randn(2, 8),)


class WideDtype(GraphRule):
    """
    ## What it does
    Finds where float64 tensors (and int64 tensors the model makes on purpose: inputs, `.long()`,
    `dtype=torch.int64`) are created, and reports them for each target whose dtype table says it
    narrows them silently to 32 bits (warning) or cannot take them (error). Index results such as
    `argmax` are int64 by PyTorch's convention and are not reported.

    ## Why is this bad?
    Core ML has no 64-bit tensors and coremltools casts them to 32 bits without an error; TFLite
    kernels are 32-bit; GPU delegates compute in float32/float16. The converted model then computes
    something other than what you tested: float64 precision you relied on is gone, int64 values
    beyond 2**31 wrap.

    ## Example
    ```python
    y = x.double().cumsum(-1)
    ```

    ## Use instead
    ```python
    y = x.cumsum(-1)            # float32; or float32 with a Kahan-style sum if precision matters
    ```

    ## Fix safety
    No automatic fix: narrowing changes the numbers.
    """

    code = "EXL102"
    slug = "wide-dtype-narrowed"
    summary = "float64/int64 tensors that the target silently narrows to 32 bits or rejects."
    severity = Severity.WARNING
    invalid = (Example(build=_double, targets=("coreml:iOS16", "onnx:18")),)
    valid = (Example(build=_single, targets=("coreml:iOS16", "onnx:18")),)

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        verdicts = {(d, t): dtype_support(d, t, graph.dialect) for d in _WIDE for t in ctx.targets}
        if not any(_rated(v) for v in verdicts.values()):
            return
        for node, dtype in _origins(graph):
            where = node.location or graph.use_location(node)
            for target in ctx.targets:
                verdict = verdicts[dtype, target]
                if _rated(verdict):
                    yield self.finding(graph, _message(node, dtype, target, verdict), node=node,
                                       target=target, location=where, severity=_severity(verdict, target))


def _rated(verdict: Verdict) -> bool:
    return verdict.status in (Status.NARROWED, Status.UNSUPPORTED)


def _severity(verdict: Verdict, target: Target) -> Severity:
    if verdict.blocks and target.version != "gpu":  # a delegate leaves what it rejects to the CPU
        return Severity.ERROR
    return Severity.WARNING


def _origins(graph: OpGraph) -> Iterable[tuple[OpNode, str]]:
    """Nodes that create a 64-bit tensor: a model input, or an op whose 64-bit output does not come
    from a 64-bit tensor produced in the graph (a cast, a creation op, a float64 parameter)."""
    for node in graph.nodes(None):
        if node.kind is NodeKind.OUTPUT:
            continue
        made = {t.dtype for t in node.outputs} & set(_WIDE)
        if not made:
            continue
        incoming = {t.dtype for _, _, t in graph.nx.in_edges(node.name, data="tensor")}
        for dtype in sorted(made - incoming):
            if dtype == "float64" or node.kind is NodeKind.INPUT or _asked_int64(node):
                yield node, dtype


def _asked_int64(node: OpNode) -> bool:
    return node.args.get("dtype") == "torch.int64"


def _message(node: OpNode, dtype: str, target: Target, verdict: Verdict) -> str:
    what = f"input {node.name!r} is {dtype}" if node.kind is NodeKind.INPUT else \
        f"{node.base_op.removeprefix('aten.')} creates a {dtype} tensor here"
    narrow = "float32" if dtype == "float64" else "int32"
    if verdict.status is Status.NARROWED:
        effect = f"{target} silently narrows it to {narrow}, so the converted model computes differently"
    else:
        effect = f"{target} cannot take {dtype}"
    why = f" ({verdict.reason})" if verdict.reason else ""
    return f"{what}: {effect}{why}. Use {narrow} unless the precision or range is needed"
