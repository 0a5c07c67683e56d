"""EXL112: a broadcast that litert-torch's layout pass moves into NHWC, which its MLIR passes then reject
(`exportlint.capture.litert_layout`)."""

from __future__ import annotations

from typing import Iterable

from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import OpGraph


def _squeeze_excite():
    """A squeeze-and-excitation block between two convolutions, less its last multiply."""
    from torch import nn

    class SqueezeExcite(nn.Module):
        def __init__(self, c: int = 16):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1)
            self.fc = nn.Sequential(nn.Linear(c, c // 4), nn.ReLU(), nn.Linear(c // 4, c), nn.Sigmoid())

        def squeeze(self, x):
            x = self.conv1(x)
            return x, self.fc(x.mean((2, 3))).view(x.shape[0], x.shape[1], 1, 1)

    return SqueezeExcite


def _expand_then_conv():
    import torch

    class Expanded(_squeeze_excite()):
        def forward(self, x):
            x, y = self.squeeze(x)
            return self.conv2(x * y.expand_as(x))  # expect: EXL112

    return Expanded().eval(), (torch.randn(1, 16, 8, 8),)


def _broadcast_then_conv():
    import torch

    class Broadcast(_squeeze_excite()):
        def forward(self, x):
            x, y = self.squeeze(x)
            return self.conv2(x * y)

    return Broadcast().eval(), (torch.randn(1, 16, 8, 8),)


class LitertTransposedBroadcast(GraphRule):
    """
    ## What it does
    For TFLite targets, runs litert-torch's own layout pass (`OptimizeLayoutTransposesPass`, after the converter's
    pre-convert decompositions) on the captured program and reports each broadcasting `expand` / `expand_as` /
    `broadcast_to` that the pass transposes to channels-last: the broadcast feeds an op that the pass put in the
    NHWC layout of the convolutions around it. `litert_torch.convert` then fails in its MLIR passes with
    "'tfl.mul' op operands don't have broadcast-compatible shapes" (or `tfl.add`, ...) at this line. Only a
    program with a convolution and a 4-d broadcasting `expand` pays for the pass (a few seconds, mostly importing
    litert-torch).

    ## Why is this bad?
    The model exports, the layout pass succeeds, and the error names a TFLite op and shapes that are not in your
    code: the classic squeeze-and-excitation `x * y.expand_as(x)` between two convolutions, or MobileViTv2's
    `F.relu(value) * context_vector.expand_as(value)`, stops the whole conversion.

    ## Example
    ```python
    x = self.conv1(x)
    y = self.fc(x.mean((2, 3))).view(b, c, 1, 1)
    return self.conv2(x * y.expand_as(x))
    ```

    ## Use instead
    ```python
    return self.conv2(x * y)   # the multiply broadcasts by itself: the same numbers, and it converts
    ```

    ## Fix safety
    No graph fix. The source rule EXL507 finds `y.expand_as(x)` / `y.expand(x.shape)` beside `x` in the source and
    drops the expand (safe: the op broadcasts to the same numbers).

    ## Known problems
    Needs litert-torch installed and a `torch.export` capture with real shapes (not a meta-device model);
    otherwise the check says it did not run.
    """

    code = "EXL112"
    slug = "litert-transposed-broadcast"
    summary = "A broadcast that litert-torch moves into NHWC and then fails to convert."
    severity = Severity.ERROR
    invalid = (Example(build=_expand_then_conv, targets=("tflite",)),)
    valid = (Example(build=_broadcast_then_conv, targets=("tflite",)),
             Example(build=_expand_then_conv, targets=("onnx:17", "coreml:iOS16")))

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        info = graph.capture
        for target in (t for t in ctx.targets if t.family == "tflite"):
            if info.litert_layout_error:
                yield self.finding(graph, f"could not run litert-torch's layout pass for {target} "
                                          f"({info.litert_layout_error}): broadcasts inside NHWC regions are not "
                                          "checked", target=target, severity=Severity.WARNING)
            for name in info.litert_layout or ():
                node = graph.node(name)
                shape = list(node.outputs[0].shape) if node.outputs and node.outputs[0].shape else "its reader's shape"
                yield self.finding(
                    graph, f"litert-torch's layout pass moves this broadcast (to {shape}) into the NHWC layout of the "
                           f"convolutions around it, and litert_torch.convert then fails for {target}: \"'tfl.mul' "
                           "op operands don't have broadcast-compatible shapes\" (or tfl.add, ...); drop the expand, "
                           "the elementwise op broadcasts by itself (`x * y`, not `x * y.expand_as(x)`)",
                    node=node, target=target, paths=("litert",))
