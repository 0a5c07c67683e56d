"""EXL501: hard-sigmoid and other activations that many targets lack or run slowly."""

from __future__ import annotations

import libcst as cst

from exportlint.engine.rule import Applicability, Example, Fix, Severity
from exportlint.source.rule import SourceRule, argument, number

# Functional name (`F.hardsigmoid`) -> module class name (`nn.Hardsigmoid`).
_CLASSES = {
    "hardsigmoid": "Hardsigmoid", "hardswish": "Hardswish", "mish": "Mish", "selu": "SELU",
    "celu": "CELU", "softsign": "Softsign", "hardtanh": "Hardtanh",
}
_KINDS = {cls: kind for kind, cls in _CLASSES.items()}
_MODULE_PREFIXES = ("torch.nn", "torch.nn.modules.activation")
_FUNCTION_PREFIXES = ("torch.nn.functional", "torch")
_NAMES = frozenset(
    [f"{p}.{cls}" for p in _MODULE_PREFIXES for cls in _KINDS]
    + [f"{p}.{kind}" for p in _FUNCTION_PREFIXES for kind in _CLASSES]
)
_EXACT = {
    "hardsigmoid": "clamp(x / 6 + 0.5, 0, 1)",
    "hardswish": "x * relu6(x + 3) / 6",
}
_SIGMOID = Fix(Applicability.UNSAFE, "replace hard-sigmoid by sigmoid (changes the numbers)")


class ExoticActivation(SourceRule):
    """
    ## What it does
    Flags hard-sigmoid, hard-swish, Mish, SELU, CELU, Softsign, and Hardtanh with bounds other than
    (-1, 1), in module form (`nn.Hardsigmoid()`) and functional form (`F.hardsigmoid(x)`), whatever
    the import alias.

    ## Why is this bad?
    These activations are missing from some converters or execution providers, or split a model
    into many delegate partitions: hard-swish and hard-sigmoid in Core ML and in ONNX Runtime's Core ML
    and NNAPI providers (coremltools#1166, onnxruntime#28181); projects swap them by hand per target
    (ultralytics/yolov5#831). This is a source-level warning: a graph check gives the verdict per target.

    ## Example
    ```python
    self.gate = nn.Hardsigmoid()
    y = F.hardswish(x)
    ```

    ## Use instead
    The exact forms built from common ops: hard-sigmoid is `torch.clamp(x / 6 + 0.5, 0, 1)`,
    hard-swish is `x * F.relu6(x + 3) / 6`. If the numbers may change, `nn.Sigmoid()` /
    `torch.sigmoid(x)` is supported everywhere.

    ## Fix safety
    `nn.Hardsigmoid()` -> `nn.Sigmoid()` and `F.hardsigmoid(x)` -> `torch.sigmoid(x)` are unsafe: they
    change the numbers (sigmoid is not piecewise linear), so a trained model needs a check or
    fine-tuning. Applied only with `--unsafe-fixes`. The other activations have no automatic fix.
    """

    code = "EXL501"
    slug = "exotic-activation"
    summary = "Hard-sigmoid, hard-swish, Mish, SELU, CELU, Softsign or bounded Hardtanh: not on every target."
    severity = Severity.WARNING
    fix = Applicability.UNSAFE
    invalid = (
        Example(
            source="""\
import torch
import torch.nn.functional as F
from torch import nn

class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate = nn.Hardsigmoid()  # expect: EXL501
        self.act = torch.nn.Mish()  # expect: EXL501
        self.clip = nn.Hardtanh(0.0, 6.0)  # expect: EXL501

    def forward(self, x):
        return F.hardswish(x) + F.hardsigmoid(x)  # expect: EXL501
"""
        ),
        Example(
            source="""\
import torch
from torch.nn import functional
from torch.nn import SELU as Selu

act = Selu()  # expect: EXL501
y = functional.softsign(torch.ones(2))  # expect: EXL501
"""
        ),
    )
    valid = (
        Example(
            source="""\
import torch
from torch import nn

class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate = nn.Sigmoid()
        self.clip = nn.Hardtanh()
        self.clip2 = nn.Hardtanh(-1.0, 1.0)

    def forward(self, x):
        return torch.clamp(x / 6 + 0.5, 0, 1) * self.gate(x)
"""
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        for name in self.unit.resolve(node.func, _NAMES):
            last = name.rpartition(".")[2]
            self._check(node, _KINDS.get(last, last), module=last in _KINDS)
            return

    def _check(self, node: cst.Call, kind: str, module: bool) -> None:
        if kind == "hardtanh" and _default_bounds(node, first=0 if module else 1):
            return
        shown = f"nn.{_CLASSES[kind]}" if module else f"F.{kind}"
        message = f"{shown} is not supported or is slow on some targets (Core ML, NNAPI, GPU delegates)"
        if kind in _EXACT:
            message += f"; its exact portable form is {_EXACT[kind]}"
        rewrite = None
        if kind == "hardsigmoid" and isinstance(node.func, cst.Attribute):
            if module:
                rewrite = _to_sigmoid_module
            elif self.unit.imports_torch and _single_input(node):
                rewrite = _to_torch_sigmoid
        self.report(node, message, fix=_SIGMOID if rewrite else None, rewrite=rewrite)


def _default_bounds(node: cst.Call, first: int) -> bool:
    for index, keyword, default in ((first, "min_val", -1.0), (first + 1, "max_val", 1.0)):
        arg = argument(node, index, keyword)
        if arg is not None and number(arg.value) != default:
            return False
    return True


def _single_input(node: cst.Call) -> bool:
    """`F.hardsigmoid(x)` or `F.hardsigmoid(x, inplace=...)`: one positional tensor argument."""
    positional = [a for a in node.args if a.keyword is None]
    return len(positional) == 1 and not positional[0].star


def _to_sigmoid_module(node: cst.Call) -> cst.Call:
    return node.with_changes(func=node.func.with_changes(attr=cst.Name("Sigmoid")), args=())


def _to_torch_sigmoid(node: cst.Call) -> cst.Call:
    first = next(a for a in node.args if a.keyword is None)
    return node.with_changes(
        func=cst.Attribute(cst.Name("torch"), cst.Name("sigmoid")),
        args=(first.with_changes(comma=node.args[-1].comma),),  # keeps a trailing comma's comment
    )
