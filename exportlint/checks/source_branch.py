"""EXL506: Python `if` / `while` on a tensor's values in `forward`."""

from __future__ import annotations

from exportlint.engine.rule import Example, Severity
from exportlint.source.lazy import cst
from exportlint.source.rule import SourceRule, descendants, method_call

# Methods and torch functions whose result is a tensor value (not a shape).
_VALUE_METHODS = (
    "sum", "mean", "max", "min", "amax", "amin", "any", "all", "item", "norm", "prod", "std", "var",
    "argmax", "argmin", "count_nonzero", "nonzero", "equal", "allclose", "is_nonzero",
)
_VALUE_FUNCTIONS = frozenset({f"torch.{name}" for name in _VALUE_METHODS} | {"torch.isnan", "torch.isinf"})


class BranchOnTensorValue(SourceRule):
    """
    ## What it does
    Flags `if`, `while`, conditional expressions and `assert` in `forward` whose condition reads a
    tensor's values: `x.sum() > 0`, `torch.any(mask)`, `x.max().item() > 1`.

    ## Why is this bad?
    A tracer records the branch taken for the example input and drops the other; torch.export stops
    with a data-dependent guard error (pytorch#127830, executorch#8988). Either way the exported model
    does not branch.

    ## Example
    ```python
    def forward(self, x):
        if x.sum() > 0:
            return torch.relu(x)
        return -x
    ```

    ## Use instead
    ```python
    def forward(self, x):
        return torch.where(x.sum() > 0, torch.relu(x), -x)  # or torch.cond for real branches
    ```

    ## Fix safety
    No automatic fix: `torch.where` computes both branches and `torch.cond` needs functions.
    """

    code = "EXL506"
    slug = "branch-on-tensor-value"
    summary = "Python if/while on a tensor's values in forward: one branch is frozen or export fails."
    severity = Severity.ERROR
    forward_only = True
    needles = (b"if", b"while", b"assert")
    invalid = (
        Example(
            source="""\
import torch

class Gate(torch.nn.Module):
    def forward(self, x, mask):
        if x.sum() > 0:  # expect: EXL506
            x = torch.relu(x)
        while x.abs().max() > 1:  # expect: EXL506
            x = x / 2
        y = x if torch.any(mask) else -x  # expect: EXL506
        assert not torch.isnan(x).any()  # expect: EXL506
        return y
"""
        ),
    )
    valid = (
        Example(
            source="""\
import torch

class Gate(torch.nn.Module):
    def forward(self, x, mask):
        if self.training and x.sum() > 0:
            self.seen += 1
        if x.shape[0] > 1 and self.use_gate:
            x = torch.where(x.sum() > 0, torch.relu(x), -x)
        return x

def summarize(x):
    if x.sum() > 0:  # outside forward
        return "positive"
"""
        ),
    )

    def visit_If(self, node: cst.If) -> None:
        self._check(node.test)

    def visit_While(self, node: cst.While) -> None:
        self._check(node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._check(node.test)

    def visit_Assert(self, node: cst.Assert) -> None:
        self._check(node.test)

    def _check(self, test: cst.BaseExpression) -> None:
        unit = self.unit
        if not unit.exported or unit.not_traced_when_true(test):
            return
        for node in descendants(test):
            if isinstance(node, cst.Call) and (
                method_call(node, *_VALUE_METHODS)
                or unit.resolve(node.func, _VALUE_FUNCTIONS)
            ):
                self.report(test, "Python branch on a tensor's values in forward: tracing keeps one"
                            " branch, torch.export fails; use torch.where or torch.cond")
                return
