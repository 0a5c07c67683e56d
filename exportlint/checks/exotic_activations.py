"""The exotic activations, one list for EXL501 (source) and EXL302 (graph).

An activation is exotic when converters or accelerators may lack it as one op, decompose it, or run
it on the CPU. Which targets do is the support tables' business (EXL302 asks them per target); this
list says what to flag and what to write instead. Softsign is not here: PyTorch traces it into
abs/add/div, which every target has.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Activation:
    function: str  # F.<function>, torch.<function>, and the ATen op aten.<function>
    module: str  # nn.<module>
    same: str  # the same function from common ops, a Python expression of x (and the arguments)
    exact: bool  # `same` gives bit-identical results on PyTorch's CPU kernels (tested)
    approximate: str = ""  # a common activation close to it, changing the numbers

    @property
    def aten(self) -> str:
        return f"aten.{self.function}"

    def advice(self) -> str:
        """What to write instead, as a message ends it."""
        same = f"{self.same} (the same function{'' if self.exact else ' up to rounding'})"
        return f"{same}, or {self.approximate} if the numbers may change" if self.approximate else same


ACTIVATIONS: dict[str, Activation] = {a.function: a for a in (
    Activation("hardsigmoid", "Hardsigmoid", "torch.clamp(x + 3, 0, 6) / 6", exact=True,
               approximate="torch.sigmoid(x)"),
    Activation("hardswish", "Hardswish", "x * F.relu6(x + 3) / 6", exact=True, approximate="F.silu(x)"),
    Activation("mish", "Mish", "x * torch.tanh(F.softplus(x))", exact=False, approximate="F.silu(x)"),
    Activation("selu", "SELU", "1.0507009873554805 * F.elu(x, 1.6732632423543772)", exact=False),
    Activation("celu", "CELU", "F.elu(x / alpha) * alpha", exact=True),
    Activation("hardtanh", "Hardtanh", "torch.clamp(x, min_val, max_val)", exact=True,
               approximate="bounds (-1, 1), (0, 6) or (0, 1)"),
)}
BY_MODULE: dict[str, Activation] = {a.module: a for a in ACTIVATIONS.values()}
BY_ATEN: dict[str, Activation] = {a.aten: a for a in ACTIVATIONS.values()}  # by OpNode.base_op

# Hardtanh bounds that converters map to common ops: nn.Hardtanh() (Clip), ReLU6, clamp to (0, 1).
USUAL_HARDTANH_BOUNDS = frozenset({(-1.0, 1.0), (0.0, 6.0), (0.0, 1.0)})
HARDTANH_DEFAULTS = (-1.0, 1.0)  # min_val, max_val


def unusual_hardtanh(min_val: float, max_val: float) -> bool:
    return (float(min_val), float(max_val)) not in USUAL_HARDTANH_BOUNDS
