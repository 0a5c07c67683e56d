"""EXL507: `y.expand_as(x)` (or `y.expand(x.shape)`) as an operand of an elementwise op with `x`, which broadcasts
by itself: the expand adds nothing, and litert-torch fails on it between convolutions (EXL112)."""

from __future__ import annotations

from exportlint.engine.rule import Applicability, Example, Fix, Severity
from exportlint.source.lazy import cst
from exportlint.source.rule import SourceRule, method_call, shape_of

_DROP = Fix(Applicability.SAFE, "drop the expand: the elementwise op broadcasts to the same shape")


def _ops() -> tuple[type, ...]:
    return cst.Multiply, cst.Add, cst.Subtract, cst.Divide


class RedundantExpand(SourceRule):
    """
    ## What it does
    Flags `y.expand_as(x)`, `y.expand(x.shape)` and `y.expand(x.size())` that are an operand of `*`, `+`, `-` or
    `/` whose other operand is that same `x`: the squeeze-and-excitation `x * y.expand_as(x)`.

    ## Why is this bad?
    The elementwise op broadcasts `y` to `x`'s shape by itself, so the expand changes nothing in PyTorch. But
    `litert_torch.convert` fails on it when the op sits between convolutions: its layout pass moves the op into
    NHWC and transposes the broadcast, and the MLIR passes then stop with "'tfl.mul' op operands don't have
    broadcast-compatible shapes" (EXL112 reports that case from the graph, for TFLite targets).

    ## Example
    ```python
    return self.conv2(x * y.expand_as(x))
    ```

    ## Use instead
    ```python
    return self.conv2(x * y)
    ```

    ## Fix safety
    Safe: `expand_as(x)` only broadcasts `y` to `x`'s shape, which the op does anyway with the same numbers.
    Applies only when the expand's argument is the same expression as the op's other operand.
    """

    code = "EXL507"
    slug = "redundant-expand"
    summary = "An expand_as before an elementwise op that broadcasts by itself (litert-torch fails on it)."
    severity = Severity.WARNING
    fix = Applicability.SAFE
    needles = (b".expand_as(", b".expand(")
    invalid = (
        Example(
            source="""\
def forward(self, x):
    y = self.fc(x.mean((2, 3))).view(x.shape[0], x.shape[1], 1, 1)
    x = x * y.expand_as(x)  # expect: EXL507
    z = y.expand(x.shape) + x  # expect: EXL507
    return self.conv(x - y.expand(x.size()) + z)  # expect: EXL507
"""
        ),
    )
    valid = (
        Example(
            source="""\
def forward(self, x, tokens):
    y = self.fc(x.mean((2, 3))).view(x.shape[0], x.shape[1], 1, 1)
    cls = self.cls_token.expand(tokens.shape[0], -1, -1)  # not an operand of an elementwise op
    return self.conv(x * y), cls, x * y.expand_as(tokens)  # expanded to another tensor than the operand
"""
        ),
    )

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if not isinstance(node.operator, _ops()):
            return
        for expanded, other in ((node.right, node.left), (node.left, node.right)):
            target = _expanded_to(expanded)
            if target is not None and target.deep_equals(other):
                self.report(expanded, "this expand is redundant: the elementwise op broadcasts by itself, and "
                                      "litert-torch fails on it between convolutions", fix=_DROP,
                            rewrite=lambda call: call.func.value)


def _expanded_to(node: cst.BaseExpression) -> cst.BaseExpression | None:
    """`X` of `Y.expand_as(X)`, `Y.expand(X.shape)` or `Y.expand(X.size())`; else None."""
    if not method_call(node, "expand_as", "expand") or len(node.args) != 1 or node.args[0].keyword \
            or node.args[0].star:
        return None
    arg = node.args[0].value
    if node.func.attr.value == "expand_as":
        return arg
    if method_call(arg, "size") and arg.args:  # X.size(0) is one size, not a shape
        return None
    return None if isinstance(arg, cst.Subscript) else shape_of(arg)
