"""EXL501: hard-sigmoid and other activations that converters or accelerators may lack."""

from __future__ import annotations

from exportlint.checks.exotic_activations import (
    ACTIVATIONS,
    BY_MODULE,
    HARDTANH_DEFAULTS,
    USUAL_HARDTANH_BOUNDS,
    Activation,
    unusual_hardtanh,
)
from exportlint.engine.rule import Applicability, Example, Fix, Severity
from exportlint.source.lazy import cst
from exportlint.source.rule import SourceRule, argument, needs_parentheses, number, sum_operand

_MODULE_PREFIXES = ("torch.nn", "torch.nn.modules.activation")
_FUNCTION_PREFIXES = ("torch.nn.functional", "torch")
_NAMES = frozenset(
    [f"{p}.{a.module}" for p in _MODULE_PREFIXES for a in ACTIVATIONS.values()]
    + [f"{p}.{a.function}" for p in _FUNCTION_PREFIXES for a in ACTIVATIONS.values()]
)
_HARDSIGMOID = ACTIVATIONS["hardsigmoid"]
_EXACT = Fix(Applicability.SAFE, f"replace F.hardsigmoid(x) by {_HARDSIGMOID.same} (the same numbers)")
_EXACT_NOT_INPLACE = Fix(
    Applicability.UNSAFE,
    f"replace F.hardsigmoid(x, inplace=...) by {_HARDSIGMOID.same} (x is no longer updated in place)",
)
_SIGMOID = Fix(
    Applicability.UNSAFE,
    "replace nn.Hardsigmoid() by nn.Sigmoid() (changes the numbers: torch has no module for the exact form)",
)


class ExoticActivation(SourceRule):
    """
    ## What it does
    Flags hard-sigmoid, hard-swish, Mish, SELU, CELU, and Hardtanh with bounds other than (-1, 1),
    (0, 6) or (0, 1), in module form (`nn.Hardsigmoid()`) and functional form (`F.hardsigmoid(x)`),
    whatever the import alias. The list is the one EXL302 uses on captured models.

    ## Why is this bad?
    These activations are not one common op on every deployment path: depending on the target and
    its version, a converter may lack them, split them into several ops, or an accelerator (a GPU
    delegate, an execution provider) may run them on the CPU and split the model into partitions
    (coremltools#1166, onnxruntime#28181); projects swap them by hand per target
    (ultralytics/yolov5#831). This is a source-level warning: `exportlint check model.py:factory
    --target ...` (EXL302) gives the verdict per target.

    ## Example
    ```python
    self.gate = nn.Hardsigmoid()
    y = F.hardswish(x)
    ```

    ## Use instead
    The same functions from common ops: hard-sigmoid is `torch.clamp(x + 3, 0, 6) / 6`, hard-swish
    is `x * F.relu6(x + 3) / 6` (both give bit-identical results), Hardtanh is
    `torch.clamp(x, min_val, max_val)`. If the numbers may change, `torch.sigmoid(x)` and
    `F.silu(x)` are supported everywhere.

    ## Fix safety
    `F.hardsigmoid(x)` -> `torch.clamp(x + 3, 0, 6) / 6` is safe: the same numbers for every input
    (in a file that does `import torch`; with `inplace=True` it is unsafe, since `x` is no longer
    updated in place). `nn.Hardsigmoid()` -> `nn.Sigmoid()` is unsafe: torch has no module computing
    the exact form, and sigmoid changes the numbers, so a trained model needs a check or
    fine-tuning; it applies only with `--unsafe-fixes`. The other activations have no automatic fix.
    """

    code = "EXL501"
    slug = "exotic-activation"
    summary = "Hard-sigmoid, hard-swish, Mish, SELU, CELU or unusual Hardtanh: not one common op on every target."
    severity = Severity.WARNING
    fix = Applicability.SAFE
    needles = tuple(sorted({n.encode() for a in ACTIVATIONS.values() for n in (a.function, a.module)}))
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
        self.clip = nn.Hardtanh(0.0, 4.0)  # expect: EXL501

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
y = functional.celu(torch.ones(2))  # expect: EXL501
z = functional.hardtanh(y, 0.0, 4.0)  # expect: EXL501
"""
        ),
    )
    valid = (
        Example(
            source="""\
import torch
import torch.nn.functional as F
from torch import nn

class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate = nn.Sigmoid()
        self.clip = nn.Hardtanh()
        self.clip2 = nn.Hardtanh(-1.0, 1.0)
        self.relu6 = nn.Hardtanh(0, 6)

    def forward(self, x):
        x = F.hardtanh(x, min_val=0.0, max_val=1.0) + F.softsign(x)
        return torch.clamp(x + 3, 0, 6) / 6 * self.gate(x)
"""
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        for name in self.unit.resolve(node.func, _NAMES):
            last = name.rpartition(".")[2]
            module = last in BY_MODULE
            self._check(node, BY_MODULE[last] if module else ACTIVATIONS[last], module)
            return

    def _check(self, node: cst.Call, activation: Activation, module: bool) -> None:
        if activation.function == "hardtanh" and not _unusual_bounds(node, first=0 if module else 1):
            return
        shown = f"nn.{activation.module}" if module else f"F.{activation.function}"
        if activation.function == "hardtanh":
            shown += " with bounds other than " + ", ".join(map(str, sorted(USUAL_HARDTANH_BOUNDS)))
        message = (f"{shown} is not one common op on every target (a converter may lack it or split it,"
                   f" an accelerator may run it on the CPU); use {activation.advice()}")
        fix = rewrite = None
        if activation is _HARDSIGMOID and module and isinstance(node.func, cst.Attribute):
            fix, rewrite = _SIGMOID, _to_sigmoid_module
            message += "; no nn module computes it exactly, so the fix swaps in nn.Sigmoid() (unsafe)"
        elif activation is _HARDSIGMOID and not module and self.unit.imports_torch:
            inplace = _inplace(node)
            if inplace is not None:
                fix = _EXACT if inplace is False else _EXACT_NOT_INPLACE
                rewrite = _exact_hardsigmoid(needs_parentheses(self.unit.parent, node))
        self.report(node, message, fix=fix, rewrite=rewrite)


def _unusual_bounds(node: cst.Call, first: int) -> bool:
    """True unless both bounds are literals (or defaults) making a usual pair."""
    bounds = []
    for index, keyword, default in zip((first, first + 1), ("min_val", "max_val"), HARDTANH_DEFAULTS):
        arg = argument(node, index, keyword)
        value = default if arg is None else number(arg.value)
        if value is None:
            return True
        bounds.append(value)
    return unusual_hardtanh(*bounds)


def _inplace(node: cst.Call) -> bool | None:
    """For `F.hardsigmoid(x)` / `F.hardsigmoid(x, inplace=False)`: False; with any other `inplace`
    value: True; None when the call has other arguments (or `*args`)."""
    if any(a.star for a in node.args) or argument(node, 0, "input") is None:
        return None
    flag = argument(node, 1, "inplace")
    if len(node.args) != 1 + (flag is not None):
        return None
    return flag is not None and not (isinstance(flag.value, cst.Name) and flag.value.value == "False")


def _to_sigmoid_module(node: cst.Call) -> cst.Call:
    return node.with_changes(func=node.func.with_changes(attr=cst.Name("Sigmoid")), args=())


def _exact_hardsigmoid(parenthesize: bool):
    """`F.hardsigmoid(x)` -> `torch.clamp(x + 3, 0, 6) / 6`, in parentheses where an operator needs them."""

    def rewrite(node: cst.Call) -> cst.BaseExpression:
        x = argument(node, 0, "input")
        last_comma = node.args[-1].comma  # keeps a trailing comma's comment
        space = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        clamp = cst.Call(
            cst.Attribute(cst.Name("torch"), cst.Name("clamp")),
            args=(
                x.with_changes(keyword=None, equal=cst.MaybeSentinel.DEFAULT, comma=space,
                               value=cst.BinaryOperation(sum_operand(x.value), cst.Add(), cst.Integer("3"))),
                cst.Arg(cst.Integer("0"), comma=space),
                cst.Arg(cst.Integer("6"), comma=last_comma),
            ),
            whitespace_before_args=node.whitespace_before_args,
        )
        lpar, rpar = node.lpar, node.rpar
        if parenthesize and not lpar:
            lpar, rpar = (cst.LeftParen(),), (cst.RightParen(),)
        return cst.BinaryOperation(clamp, cst.Divide(), cst.Integer("6"), lpar=lpar, rpar=rpar)

    return rewrite
