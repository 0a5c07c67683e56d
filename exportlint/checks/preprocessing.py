"""EXL401: a declared input normalisation (mean/std) that the model does not contain."""

from __future__ import annotations

from typing import Iterable

from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import OpGraph, OpNode

_LAYERS = ("aten.conv1d", "aten.conv2d", "aten.conv3d", "aten.convolution", "aten._convolution",
           "aten.linear", "aten.addmm", "aten.mm", "aten.matmul")
_NORMALISING = ("aten.sub", "aten.div", "aten.mul", "aten.add", "aten.addcmul", "aten.addcdiv", "aten.rsub",
                "aten.batch_norm", "aten.layer_norm", "aten.group_norm", "aten.instance_norm",
                "aten._native_batch_norm_legit_no_training")
_MAX_HOPS = 32  # reshapes, casts and pads before the first layer


def _raw():
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return self.conv(x.contiguous())  # expect: EXL401

    return Net(), (torch.rand(1, 3, 16, 16),)


def _normalised():
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return self.conv((x - self.mean) / self.std)

    return Net(), (torch.rand(1, 3, 16, 16),)


_IMAGENET = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}


class PreprocessingOutsideGraph(GraphRule):
    """
    ## What it does
    When you declare the input normalisation (`mean` / `std` in `[tool.exportlint]` or on the command
    line), checks that the model applies it: follows each floating-point input to the first
    convolution or linear layer and reports the layer if no subtract, divide, scale or norm op comes
    before it.

    ## Why is this bad?
    The exported model then expects normalised input, and every app that deploys it (Swift, Kotlin,
    C++) has to re-implement the normalisation with the same constants, channel order and value
    range. A mismatch gives wrong predictions with no error. Inside the graph the converter fuses it
    into the first layer (Core ML's `ImageType(scale=, bias=)`, TFLite metadata) for free.

    ## Example
    ```python
    def forward(self, x):            # callers must pass (pixels - mean) / std
        return self.conv(x)
    ```

    ## Use instead
    ```python
    self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
    self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
    def forward(self, x):
        return self.conv((x - self.mean) / self.std)
    ```

    ## Fix safety
    No automatic fix here; the rewrite that inserts the normalisation is tracked separately.
    """

    code = "EXL401"
    slug = "preprocessing-outside-graph"
    summary = "Declared mean/std normalisation is not in the model: every caller must re-implement it."
    severity = Severity.WARNING
    invalid = (Example(build=_raw, options=_IMAGENET),)
    valid = (Example(build=_normalised, options=_IMAGENET), Example(build=_raw))

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        mean, std = ctx.options.mean, ctx.options.std
        if mean is None and std is None:
            return
        declared = ", ".join(f"{k}={v}" for k, v in (("mean", mean), ("std", std)) if v is not None)
        for start in graph.inputs():
            if not any(t.dtype and t.dtype.startswith(("float", "bfloat")) for t in start.outputs):
                continue
            for layer in _raw_layers(graph, start):
                yield self.finding(
                    graph, f"input {start.name!r} reaches {layer.base_op.removeprefix('aten.')} without "
                    f"normalisation, but you declared {declared}: the exported model expects callers to "
                    "normalise. Put (x - mean) / std in the model (buffers) so the graph takes raw "
                    "values", node=layer)


def _raw_layers(graph: OpGraph, start: OpNode) -> list[OpNode]:
    """First conv/linear layers reached from `start` through ops that do not normalise."""
    seen, frontier, found = {start.name}, [start], []
    for _ in range(_MAX_HOPS):
        nxt = []
        for node in frontier:
            for succ in graph.successors(node):
                if succ.name in seen:
                    continue
                seen.add(succ.name)
                if succ.base_op in _LAYERS:
                    found.append(succ)
                elif succ.base_op not in _NORMALISING:
                    nxt.append(succ)
        if not nxt:
            break
        frontier = nxt
    return found
