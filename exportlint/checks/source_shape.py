"""EXL502: sizes read from `x.size()` / `x.shape` feeding view, reshape, pooling kernels, interpolate."""

from __future__ import annotations

from exportlint.engine.rule import Applicability, Example, Fix, Severity
from exportlint.source.lazy import cst
from exportlint.source.rule import SourceRule, argument, mentions_shape, method_call, number, shape_of

_POOLS = {f"{kind}_pool{n}d" for kind in ("avg", "max", "lp") for n in (1, 2, 3)}
_RESIZES = {"interpolate", "upsample", "upsample_bilinear", "upsample_nearest"}
_NAMES = frozenset(
    [f"{prefix}.{pool}" for prefix in ("torch.nn.functional", "torch") for pool in _POOLS]
    + [f"torch.nn.functional.{resize}" for resize in _RESIZES]
    + ["torch.reshape"]
)
_TO_NUMBER = ("int", "float")  # builtins (a local shadowing them is not tracked)
_FLATTEN = Fix(Applicability.SAFE, "replace the view by torch.flatten(x, 1)")
_ADAPTIVE = Fix(Applicability.SAFE, "replace the whole-input pooling by adaptive pooling to 1")


class FrozenShapeArithmetic(SourceRule):
    """
    ## What it does
    Flags values read from `x.size()` / `x.shape` that feed `view` / `reshape` sizes, pooling kernel
    sizes or strides, `F.interpolate` sizes, and `int(...)` / `float(...)` of a shape in `forward`.

    ## Why is this bad?
    A tracer (`torch.jit.trace`, the TorchScript ONNX exporter, converters built on them) records
    these Python numbers as constants: the exported model then works for the traced input size only
    (pytorch#39323, TracerWarning reports, MONAI#7560). Pooling kernels must be Python ints, so a
    kernel from `x.size()` is frozen by every exporter, torch.export included.

    ## Example
    ```python
    x = F.avg_pool2d(x, x.size()[2:])
    x = x.view(x.size(0), -1)
    h = int(x.shape[2])
    ```

    ## Use instead
    ```python
    x = F.adaptive_avg_pool2d(x, 1)
    x = torch.flatten(x, 1)
    # keep sizes as tensors / symbolic ints; mark the dimension dynamic when exporting
    ```

    ## Fix safety
    Safe: `F.avg_pool2d(x, x.size()[2:])` -> `F.adaptive_avg_pool2d(x, 1)` (also max pooling, 1d/3d)
    and `x.view(x.size(0), -1)` / `x.reshape(x.shape[0], -1)` -> `torch.flatten(x, 1)` compute the same
    values for every input size (`x.flatten(1)` when the file does not `import torch`). They apply
    only when the pooled or viewed tensor is the same expression as the one whose size is read, with no
    other arguments. Other cases have no automatic fix.
    """

    code = "EXL502"
    slug = "frozen-shape-arithmetic"
    summary = "A size read from x.size()/x.shape feeds view/reshape/pooling/interpolate/int()."
    severity = Severity.WARNING
    fix = Applicability.SAFE
    needles = (b".size(", b".shape")  # every pattern reads a size
    invalid = (
        Example(
            source="""\
import torch
import torch.nn.functional as F
from torch import nn

class Net(nn.Module):
    def forward(self, x, skip):
        x = F.avg_pool2d(x, x.size()[2:])  # expect: EXL502
        x = x.view(x.size(0), -1)  # expect: EXL502
        y = skip.reshape(skip.shape[0], skip.shape[1] * 4, -1)  # expect: EXL502
        z = F.interpolate(skip, size=x.shape[2:])  # expect: EXL502
        h = int(skip.shape[2])  # expect: EXL502
        return torch.max_pool2d(y, kernel_size=(y.size(2), 1))  # expect: EXL502
"""
        ),
    )
    valid = (
        Example(
            source="""\
import torch
import torch.nn.functional as F

def forward(x):
    x = F.adaptive_avg_pool2d(x, 1)
    x = torch.flatten(x, 1)
    n = x.shape[0]  # reading a size is fine; feeding it to view/pool/int is not
    y = F.interpolate(x[:, :, None, None], scale_factor=2.0)
    return x.view(-1), y, n
"""
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        if method_call(node, "view", "reshape"):
            self._check_view(node)
            return
        for name in self.unit.resolve(node.func, _NAMES):
            last = name.rpartition(".")[2]
            if last in _POOLS:
                self._check_pool(node, last)
            elif last == "reshape":
                self._check_view(node)
            else:
                size = argument(node, 1, "size")
                if size is not None and mentions_shape(size.value):
                    self.report(
                        node,
                        f"F.{last} size computed from a tensor's shape is frozen when traced;"
                        " prefer scale_factor, or export with that dimension dynamic",
                    )
            return
        if (
            self.unit.in_forward
            and isinstance(node.func, cst.Name)
            and node.func.value in _TO_NUMBER
            and any(mentions_shape(a.value) for a in node.args)
        ):
            self.report(node, "a shape turned into a Python number in forward is traced as a constant")

    def _check_view(self, node: cst.Call) -> None:
        if not any(mentions_shape(a.value) for a in node.args):
            return
        rewrite = _flatten_rewrite(node, self.unit.imports_torch)
        self.report(
            node,
            "view/reshape sizes computed from a tensor's shape are frozen when traced"
            + ("; use torch.flatten(x, 1)" if rewrite else ""),
            fix=_FLATTEN if rewrite else None,
            rewrite=rewrite,
        )

    def _check_pool(self, node: cst.Call, pool: str) -> None:
        kernel, stride = argument(node, 1, "kernel_size"), argument(node, 2, "stride")
        if not any(a is not None and mentions_shape(a.value) for a in (kernel, stride)):
            return
        rewrite = None
        if (
            not pool.startswith("lp")
            and isinstance(node.func, cst.Attribute)
            and len(node.args) == 2
            and node.args[0].keyword is None
            and not node.args[0].star
            and _whole_spatial(kernel.value, node.args[0].value)
        ):
            rewrite = _adaptive_rewrite(f"adaptive_{pool}")
        self.report(
            node,
            f"{pool} kernel computed from a tensor's shape is frozen at export"
            + (f"; use adaptive_{pool}(x, 1)" if rewrite else ""),
            fix=_ADAPTIVE if rewrite else None,
            rewrite=rewrite,
        )


def _whole_spatial(kernel: cst.BaseExpression, pooled: cst.BaseExpression) -> bool:
    """`kernel` is `X.size()[2:]` or `X.shape[2:]` with `X` the pooled expression."""
    if not isinstance(kernel, cst.Subscript) or len(kernel.slice) != 1:
        return False
    part = kernel.slice[0].slice
    source = shape_of(kernel)
    return (
        isinstance(part, cst.Slice)
        and part.lower is not None
        and number(part.lower) == 2
        and part.upper is None
        and part.step is None
        and (not method_call(kernel.value, "size") or not kernel.value.args)
        and source is not None
        and source.deep_equals(pooled)
    )


def _adaptive_rewrite(name: str):
    def rewrite(node: cst.Call) -> cst.Call:
        return node.with_changes(
            func=node.func.with_changes(attr=cst.Name(name)),
            args=(node.args[0], node.args[1].with_changes(value=cst.Integer("1"))),
        )

    return rewrite


def _flatten_rewrite(node: cst.Call, imports_torch: bool):
    """For `X.view(X.size(0), -1)` / `X.reshape(X.shape[0], -1)`: the rewrite to a flatten, else None."""
    if not method_call(node, "view", "reshape") or len(node.args) != 2:
        return None
    first, rest = node.args
    if first.keyword or rest.keyword or first.star or rest.star or number(rest.value) != -1:
        return None
    tensor = node.func.value
    size = first.value
    if method_call(size, "size"):  # X.size(0)
        ok = len(size.args) == 1 and number(size.args[0].value) == 0
    elif isinstance(size, cst.Subscript) and len(size.slice) == 1:  # X.shape[0] / X.size()[0]
        index = size.slice[0].slice
        ok = isinstance(index, cst.Index) and number(index.value) == 0
        ok = ok and not (method_call(size.value, "size") and size.value.args)
    else:
        return None
    source = shape_of(size)
    if not ok or source is None or not source.deep_equals(tensor):
        return None

    def rewrite(updated: cst.Call) -> cst.Call:
        x = updated.func.value
        if imports_torch:
            return cst.Call(
                cst.Attribute(cst.Name("torch"), cst.Name("flatten")),
                args=(cst.Arg(x, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                      cst.Arg(cst.Integer("1"))),
            )
        return cst.Call(cst.Attribute(x, cst.Name("flatten")), args=(cst.Arg(cst.Integer("1")),))

    return rewrite
