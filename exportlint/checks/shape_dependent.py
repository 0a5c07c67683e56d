"""EXL201: a value computed from an input's size and frozen into a constant at capture."""

from __future__ import annotations

import re
from typing import Iterable

from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import Location, OpGraph, OpNode

_POOLS = {"avg_pool1d": "F.adaptive_avg_pool1d(x, 1)", "avg_pool2d": "F.adaptive_avg_pool2d(x, 1)",
          "avg_pool3d": "F.adaptive_avg_pool3d(x, 1)", "max_pool1d": "F.adaptive_max_pool1d(x, 1)",
          "max_pool2d": "F.adaptive_max_pool2d(x, 1)", "max_pool3d": "F.adaptive_max_pool3d(x, 1)"}
_VIEWS = ("view", "reshape")


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
            out = x.new_zeros(x.shape[0], x.shape[2])  # expect: EXL201
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
    `interpolate` size, a loop bound. exportlint runs the model's forward pass twice on fake tensors
    (nothing allocated), at the example sizes and with the input dims it accepts doubled, and
    reports every torch call whose int arguments differ between the two passes, at the line that
    makes it, and a call a loop or branch makes another number of times. Dims marked dynamic
    (`--dynamic`) that came out static are reported too.

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
        run = info.sizes
        if run is None:
            if info.sizes_skipped:
                yield self.finding(graph, f"sizes frozen at capture were not looked for: the forward pass at "
                                   f"doubled input sizes did not run ({info.sizes_skipped}); mark the "
                                   "dims that vary --dynamic to check them", severity=Severity.INFO)
            return
        nodes = _nodes_by_line(graph)
        if run.loop is not None:
            call, where, site, a, b = run.loop
            yield self.finding(
                graph, f"the graph changes with the input size: {call} runs {a}x for input {run.here} and "
                f"{b}x for {run.there}. A Python loop, branch or cache reads the input's size, and the "
                "exported model keeps what the captured size did. Use tensor ops over the whole dim instead "
                "of a loop over its size", **_at(nodes, call, where, site))
        for call, where, site, changed in run.changed:
            shown = ", ".join(f"{_name(n)}{_show(v)}" for n, v, _ in changed)
            then = ", ".join(f"{_name(n)}{_show(w)}" for n, _, w in changed)
            yield self.finding(
                graph, f"{call} gets {shown} computed from the input's size and frozen at capture: for "
                f"input {run.there} it would need {then}, so the exported model is only correct for input "
                f"{run.here}. {_instead(call, changed)}", **_at(nodes, call, where, site))


def _nodes_by_line(graph: OpGraph) -> dict[tuple[str, int], list[OpNode]]:
    out: dict[tuple[str, int], list[OpNode]] = {}
    for node in graph.nodes():
        if node.location is not None:
            out.setdefault((node.location.path, node.location.line), []).append(node)
    return out


def _at(nodes: dict, call: str, where: Location | None, site: Location | None) -> dict:
    """The finding's place: the graph's node of `call` on that line (its op and module name it), else
    the first node of the line, else the line alone, called from the user's `site` when a library's."""
    here = nodes.get((where.path, where.line), []) if where is not None else []
    stem = re.sub(r"^__i(\w+?)__$|^__(\w+?)__$", r"\1\2", call)  # __iadd__, __add__: add
    node = next((n for n in here if stem and stem in n.base_op), here[0] if here else None)
    return {"node": node} if node is not None else {"location": where, "called_from": site}


def _name(argument: str) -> str:
    return "" if argument.startswith("#") else f"{argument}="


def _show(value) -> str:
    """An argument as written: slices as `a:b`, sequences as lists."""
    if isinstance(value, tuple):  # a slice
        start, stop, step = (("" if v is None else str(v)) for v in value[1:])
        return f"{start}:{stop}" + (f":{step}" if step else "")
    if isinstance(value, list):
        return "[" + ", ".join(map(_show, value)) + "]"
    return repr(value)


def _instead(call: str, changed: tuple) -> str:
    if call in _POOLS:
        return f"For a global pool use {_POOLS[call]}."
    if call in _VIEWS:
        size = changed[0][1]
        if isinstance(size, list) and len(size) == 2 and size[1] == -1:
            return "To flatten, use torch.flatten(x, 1)."
        return "Keep sizes out of Python: use -1 for one dim, torch.flatten or Tensor.unflatten."
    if call in ("interpolate", "upsample"):
        return "Use F.interpolate(x, scale_factor=...) instead of a size computed from x.shape."
    return "Compute it with tensor ops, or export with the dims dynamic (--dynamic)."
