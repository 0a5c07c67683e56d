"""EXL505: float64 dtypes and `.double()`."""

from __future__ import annotations

from exportlint.engine.rule import Example, Severity
from exportlint.source.lazy import cst
from exportlint.source.rule import SourceRule, method_call

_FLOAT64 = frozenset({"torch.float64", "torch.double", "torch.DoubleTensor", "torch.cuda.DoubleTensor"})


class Float64Dtype(SourceRule):
    """
    ## What it does
    Flags `torch.float64` / `torch.double` / `torch.DoubleTensor` and `.double()` calls.

    ## Why is this bad?
    Most deployment targets have no 64-bit float kernels: TensorRT and Core ML silently narrow
    float64 to float32 (TensorRT#1207, coremltools#2153, #2193), TFLite lacks most float64 kernels,
    and GPU and NPU delegates reject it. The exported model then differs from the one you tested, or
    falls back to the CPU.

    ## Example
    ```python
    self.register_buffer("scale", torch.ones(8, dtype=torch.float64))
    y = x.double().cumsum(-1)
    ```

    ## Use instead
    ```python
    self.register_buffer("scale", torch.ones(8))
    y = x.cumsum(-1)
    ```

    ## Fix safety
    No automatic fix: narrowing to float32 changes the numbers, and a float64 step may be there
    for precision on purpose.
    """

    code = "EXL505"
    slug = "float64-dtype"
    summary = "float64 tensors (torch.float64, torch.double, .double()): narrowed or unsupported."
    severity = Severity.WARNING
    needles = (b"float64", b"double", b"Double")
    invalid = (
        Example(
            source="""\
import torch
from torch import float64

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.ones(8, dtype=torch.double))  # expect: EXL505
        self.offset = torch.zeros(8).to(float64)  # expect: EXL505

    def forward(self, x):
        return x.double().cumsum(-1) * self.scale  # expect: EXL505
"""
        ),
    )
    valid = (
        Example(
            source="""\
import torch

class Net(torch.nn.Module):
    def forward(self, x):
        return x.float().cumsum(-1).to(torch.float32)
"""
        ),
    )

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self.unit.resolve(node, _FLOAT64):
            self.report(node, f"{_code(node)} is float64: narrowed or unsupported on most targets")

    def visit_Name(self, node: cst.Name) -> None:  # `from torch import float64`
        if node.value in ("float64", "double") and self.unit.resolve(node, _FLOAT64):
            self.report(node, f"{node.value} is float64: narrowed or unsupported on most targets")

    def visit_Call(self, node: cst.Call) -> None:
        if method_call(node, "double") and not node.args:
            self.report(node, ".double() makes float64 tensors: narrowed or unsupported on most targets")


def _code(node: cst.Attribute) -> str:
    return cst.Module([]).code_for_node(node)
