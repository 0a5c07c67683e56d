"""EXL504: `.item()`, `.tolist()`, `.numpy()` on the exported path of `forward`."""

from __future__ import annotations

from exportlint.engine.rule import Example, Severity
from exportlint.source.lazy import cst
from exportlint.source.rule import SourceRule, method_call

_TO_PYTHON = ("item", "tolist", "numpy")


class TensorToPythonInForward(SourceRule):
    """
    ## What it does
    Flags `.item()`, `.tolist()` and `.numpy()` calls in `forward`, outside training-only branches.

    ## Why is this bad?
    They turn a tensor's values into Python numbers or NumPy arrays. A tracer freezes the value seen
    while tracing into a constant; torch.export stops on the data-dependent value (or needs
    `torch._check` hints); `.numpy()` leaves the graph altogether (pytorch#127830, executorch#8988).

    ## Example
    ```python
    def forward(self, x):
        scale = x.abs().max().item()
        return x / scale
    ```

    ## Use instead
    ```python
    def forward(self, x):
        scale = x.abs().amax()
        return x / scale
    ```

    ## Fix safety
    No automatic fix: keeping the value a tensor changes the code around it.
    """

    code = "EXL504"
    slug = "tensor-to-python-in-forward"
    summary = ".item()/.tolist()/.numpy() in forward: values leave the graph."
    severity = Severity.ERROR
    forward_only = True
    needles = tuple(f".{name}(".encode() for name in _TO_PYTHON)
    invalid = (
        Example(
            source="""\
import torch

class Net(torch.nn.Module):
    def forward(self, x):
        scale = x.abs().max().item()  # expect: EXL504
        ids = x.argmax(-1).tolist()  # expect: EXL504
        arr = x.detach().cpu().numpy()  # expect: EXL504
        return x / scale
"""
        ),
    )
    valid = (
        Example(
            source="""\
import torch

class Net(torch.nn.Module):
    def forward(self, x):
        if self.training:
            self.last_loss = x.mean().item()
        return x / x.abs().amax()

def evaluate(model, x):
    return model(x).argmax(-1).tolist()  # outside forward
"""
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        if method_call(node, *_TO_PYTHON) and not node.args and self.unit.exported:
            name = node.func.attr.value
            self.report(node, f".{name}() in forward takes the value out of the graph: it is frozen"
                        " when traced and data-dependent for torch.export")
