"""Run options: one typed object, filled from `[tool.exportlint]` and the command line."""

from __future__ import annotations

from dataclasses import dataclass, field

from exportlint.targets import Target, parse_target


@dataclass(frozen=True)
class DynamicDim:
    """Input `input` (index), dimension `dim`, marked dynamic with optional bounds."""

    input: int
    dim: int
    name: str
    min: int | None = None
    max: int | None = None


@dataclass
class Options:
    targets: list[Target] = field(default_factory=lambda: [parse_target("onnx:18")])
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    dynamic: list[DynamicDim] = field(default_factory=list)
    mean: tuple[float, ...] | None = None  # declared input normalisation
    std: tuple[float, ...] | None = None
    train: bool = False  # capture in training mode (normally eval)
