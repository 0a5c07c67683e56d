"""EXL201: a value computed from an input's size and frozen into a constant at capture."""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import OpGraph, OpNode
from exportlint.tables import BOOKKEEPING_OPS

_POOLS = {"aten.avg_pool1d": "F.adaptive_avg_pool1d(x, 1)", "aten.avg_pool2d": "F.adaptive_avg_pool2d(x, 1)",
          "aten.avg_pool3d": "F.adaptive_avg_pool3d(x, 1)", "aten.max_pool1d": "F.adaptive_max_pool1d(x, 1)",
          "aten.max_pool2d": "F.adaptive_max_pool2d(x, 1)", "aten.max_pool3d": "F.adaptive_max_pool3d(x, 1)"}
_VIEWS = ("aten.view", "aten.reshape", "aten._unsafe_view")


def _global_pool():
    import torch
    import torch.nn.functional as F

    class Head(torch.nn.Module):
        def forward(self, x):
            x = F.avg_pool2d(x, x.size()[2:])  # expect: EXL201
            return x.view(x.size(0), -1)  # expect: EXL201

    return Head(), (torch.randn(2, 4, 8, 8),)


def _int_of_shape():
    import torch
    import torch.nn.functional as F

    class Up(torch.nn.Module):
        def forward(self, x):
            return F.interpolate(x, size=(int(x.shape[2]) * 2, 16))  # expect: EXL201

    return Up(), (torch.randn(1, 2, 8, 8),)


def _loop_over_size():
    import torch

    class Rows(torch.nn.Module):
        def forward(self, x):
            out = x.new_zeros(x.shape[0], x.shape[2])
            for i in range(x.size(1)):
                out = out + x[:, i]  # expect: EXL201
            return out

    return Rows(), (torch.randn(2, 4, 8),)


def _adaptive_pool():
    import torch
    import torch.nn.functional as F

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = torch.nn.Flatten()

        def forward(self, x):
            x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
            return self.flatten(F.interpolate(x[:, :, None, None], scale_factor=2.0))

    return Head(), (torch.randn(2, 4, 8, 8),)


class ShapeDependentConstant(GraphRule):
    """
    ## What it does
    Finds values computed from an input's size (`x.size()`, `x.shape`, `len(x)`, `int(x.shape[2])`)
    that became constants of the exported graph: a pooling kernel, a `view`/`reshape` target, an
    `interpolate` size, a loop bound. exportlint captures the model a second time with the input dims
    it accepts doubled and reports every constant that differs between the two graphs, at the line
    that computes it. Dims marked dynamic (`--dynamic`) that came out static are reported too.

    ## Why is this bad?
    The exporter records the number, not the computation: the exported model only works for the
    input size used at export, and gives wrong results or fails for any other (a `view(2, -1)`
    mixes up a batch of 4; a 32x32 pooling kernel no longer pools globally a 64x64 image). With the
    dims exported dynamic the same code becomes shape arithmetic that TensorRT and TFLite handle
    poorly or reject.

    ## Example
    ```python
    x = F.avg_pool2d(x, x.size()[2:])
    x = x.view(x.size(0), -1)
    ```

    ## Use instead
    ```python
    x = F.adaptive_avg_pool2d(x, 1)
    x = torch.flatten(x, 1)
    ```
    and `F.interpolate(x, scale_factor=2)` rather than a size computed from `x.shape`.

    ## Fix safety
    Safe, where the line is one EXL502 rewrites (`F.avg_pool2d(x, x.size()[2:])`,
    `x.view(x.size(0), -1)`): the finding then carries that source fix (`[*]`, `exportlint fix FILE`).
    `exportlint fix SPEC --output` rewrites the graph instead (pool-to-adaptive, view-to-flatten).
    Both give the same numbers at the captured size and the right ones at every other.
    """

    code = "EXL201"
    slug = "shape-dependent-constant"
    source_fix = "EXL502"
    summary = "A value computed from an input's size is frozen into the graph: it only works at that size."
    severity = Severity.WARNING
    invalid = (Example(build=_global_pool), Example(build=_int_of_shape), Example(build=_loop_over_size))
    valid = (Example(build=_adaptive_pool),)

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        info = graph.capture
        for dim, value in info.specialized.items():
            yield self.finding(
                graph, f"dim {dim!r} was marked dynamic but the model fixed it to {value}: code reads "
                "this size as a Python number (e.g. int(x.shape[2])); the exported model takes only "
                f"{value}. Use size-free ops (torch.flatten, F.adaptive_avg_pool2d, scale_factor)",
                location=info.specialization_location.get(dim), severity=Severity.ERROR)
        other = info.resized
        if other is None:
            return
        here, there = _sizes(graph), _sizes(other)
        structure = _structure_change(graph, other)
        if structure is not None:
            node, a, b = structure
            yield self.finding(
                graph, f"the graph changes with the input size: {node.op} occurs {a}x for input "
                f"{here} and {b}x for {there}. A Python loop or branch reads the input's size, "
                f"and the exported model keeps the {a} of the captured size. Use tensor ops over the "
                "whole dim instead of a loop over its size", node=node)
            return
        for node, changed in _changed_args(graph, other):
            shown = ", ".join(f"{k}={v}" for k, (v, _) in changed.items())
            then = ", ".join(f"{k}={w}" for k, (_, w) in changed.items())
            yield self.finding(
                graph, f"{_call(node)} gets {shown} computed from the input's size and frozen at "
                f"capture: for input {there} it would need {then}, so the exported model is only "
                f"correct for input {here}. {_instead(node, changed)}", node=node)


def _sizes(graph: OpGraph) -> str:
    shapes = [n.outputs[0].shape for n in graph.inputs() if n.outputs and n.outputs[0].shape is not None]
    return ", ".join("x".join(map(str, s)) for s in shapes)


def _structure_change(graph: OpGraph, other: OpGraph) -> tuple[OpNode, int, int] | None:
    """The first op (in source order) that occurs a different number of times in the two captures.
    Shape bookkeeping (`sym_size`, `_assert_*`) exists only where dims are symbolic: not compared."""

    def counts(g: OpGraph) -> Counter:
        return Counter({op: len(nodes) for op, nodes in g.by_op.items() if op not in BOOKKEEPING_OPS})

    a, b = counts(graph), counts(other)
    diff = [op for op in a.keys() | b.keys() if a[op] != b[op] and op in graph.by_op]
    if not diff:
        return None
    node = min((graph.by_op[op][0] for op in diff), key=lambda n: (n.location is None, n.location))
    return node, a[node.op], b[node.op]


def _changed_args(graph: OpGraph, other: OpGraph) -> Iterable[tuple[OpNode, dict]]:
    """Nodes written in user code whose constant args differ from the same node (same op, same
    occurrence) of the other capture. Inside torch's own modules (nn.Flatten, attention) a size
    argument is the library's business, not the user's."""
    for op, nodes in graph.by_op.items():
        for node, twin in zip(nodes, other.by_op.get(op, ())):
            if (node.module_type or "").startswith("torch."):
                continue
            changed = {k: (v, twin.args.get(k)) for k, v in node.args.items()
                       if k in twin.args and twin.args[k] != v and _sizeish(v)}
            if changed:
                yield node, changed


def _sizeish(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, list) and bool(value) and all(_sizeish(v) for v in value)


def _call(node: OpNode) -> str:
    return node.base_op.removeprefix("aten.")


def _instead(node: OpNode, changed: dict) -> str:
    base = node.base_op
    if base in _POOLS:
        return f"For a global pool use {_POOLS[base]}."
    if base in _VIEWS:
        size = changed.get("size", ((),))[0] or node.args.get("shape") or []
        if len(size) == 2 and size[1] == -1:
            return "To flatten, use torch.flatten(x, 1)."
        return "Keep sizes out of Python: use -1 for one dim, torch.flatten or Tensor.unflatten."
    if base.startswith("aten.upsample"):
        return "Use F.interpolate(x, scale_factor=...) instead of a size computed from x.shape."
    return "Compute it with tensor ops, or export with the dims dynamic (--dynamic)."

