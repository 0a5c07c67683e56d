"""EXL202: shapes or Python values that depend on a tensor's values (nonzero, masks, unique, .item())."""

from __future__ import annotations

import re
from typing import Iterable

from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import OpGraph, OpNode

_UNBACKED = re.compile(r"\bu\d+\b")  # torch.export's name for a size known only at run time
# Ops whose output leaves the tensor world (a Python number) -> what the user wrote.
_TO_PYTHON = {"aten.item": ".item()", "aten._local_scalar_dense": ".item() / .tolist()"}
_ADVICE = {
    "aten.nonzero": "use torch.where(mask, x, 0) or a fixed-size torch.topk instead of the indices",
    "aten.index": "use torch.where(mask, x, 0) (or multiply by the mask) instead of x[mask]",
    "aten.masked_select": "use torch.where(mask, x, 0) instead of masked_select",
    "aten.unique": "count with a fixed-size one-hot / scatter_add, or move unique after the model",
}


def _masked():
    import torch

    class Select(torch.nn.Module):
        def forward(self, x):
            keep = x[x > 0]  # expect: EXL202
            scale = x.abs().max().item()  # expect: EXL202
            return keep * scale, torch.nonzero(x)  # expect: EXL202

    return Select(), (torch.randn(4, 3),)


def _where():
    import torch

    class Select(torch.nn.Module):
        def forward(self, x):
            return torch.where(x > 0, x, 0.0) * x.abs().amax(), torch.topk(x, 2, dim=-1).indices

    return Select(), (torch.randn(4, 3),)


class DataDependentShape(GraphRule):
    """
    ## What it does
    Finds ops whose output size depends on the tensor's values (`nonzero`, boolean-mask indexing
    `x[mask]`, `masked_select`, `unique`, `repeat_interleave` by a tensor) and values turned into
    Python numbers (`.item()`, `.tolist()`), from the sizes `torch.export` could only name at run
    time. Each is rated per target: an error where the target's converter cannot translate the op.
    Python `if` on a tensor value stops `torch.export` and is reported by EXL001.

    ## Why is this bad?
    Accelerators plan memory from static shapes. TFLite's GPU delegate and NPUs reject
    data-dependent shapes; TensorRT needs an output allocator for them; Core ML runs them on the CPU;
    converters without the op fail. A Python number from `.item()` is frozen into the graph by
    tracers.

    ## Example
    ```python
    keep = x[x > 0]
    scale = x.abs().max().item()
    ```

    ## Use instead
    ```python
    keep = torch.where(x > 0, x, 0.0)     # same shape as x
    scale = x.abs().amax()                # stays a tensor
    ```

    ## Fix safety
    No automatic fix: a fixed-shape result changes what the next ops receive.
    """

    code = "EXL202"
    slug = "data-dependent-shape"
    summary = "nonzero, x[mask], unique, .item(): sizes or numbers known only from the tensor's values."
    severity = Severity.WARNING
    invalid = (Example(build=_masked, targets=("onnx:18", "coreml:iOS16", "tflite")),)
    valid = (Example(build=_where, targets=("onnx:18", "coreml:iOS16", "tflite")),)

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        for op, nodes in graph.by_op.items():
            base = nodes[0].base_op
            if base in _TO_PYTHON:
                kind = "python"
            elif base == "aten.sym_size" or not any(_unbacked(n) for n in nodes):
                continue
            else:
                kind = "shape"
            for node in nodes:
                if kind == "shape" and not _unbacked(node):
                    continue
                yield self.finding(graph, _message(node, kind), node=node)  # blocking is EXL101's verdict


def _unbacked(node: OpNode) -> bool:
    return any(t.shape and any(isinstance(d, str) and _UNBACKED.search(d) for d in t.shape)
               for t in node.outputs)


def _message(node: OpNode, kind: str) -> str:
    base = node.base_op
    if kind == "python":
        return (f"{_TO_PYTHON[base]} turns a tensor value into a Python number: tracers freeze it, "
                "and torch.export has to guard on it. Keep it a tensor (x.amax() rather than "
                "x.max().item())")
    name = base.removeprefix("aten.")
    advice = next((a for prefix, a in _ADVICE.items() if base.startswith(prefix)),
                  "compute a fixed-size result (torch.where, topk) instead")
    return (f"{name} returns a tensor whose size depends on the values of its input: GPU delegates "
            f"and NPUs reject it, TensorRT and Core ML run it on slow paths; {advice}")
