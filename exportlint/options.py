"""What rules and the engine see of a run: `Options`, and the dynamic-dim and per-file-ignore types it
holds. Below the engine: the config reader (`exportlint.config`, pyproject.toml and the command line)
fills it and imports the engine to validate codes, never the reverse."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from exportlint.targets import Target, parse_target


@dataclass(frozen=True)
class DynamicDim:
    """Input `input` (index), dimension `dim`, marked dynamic with optional bounds."""

    input: int
    dim: int
    name: str
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class PerFileIgnore:
    """Codes (or prefixes) ignored in files matching `pattern`, a glob relative to `root`."""

    pattern: str
    codes: tuple[str, ...]
    root: Path

    def matches(self, path: str) -> bool:
        from fnmatch import fnmatch

        p = Path(os.path.realpath(path))  # not resolve(): it raises on a symlink loop
        try:
            rel = p.relative_to(self.root).as_posix()
        except ValueError:
            rel = p.as_posix()
        return fnmatch(rel, self.pattern) or fnmatch(p.name, self.pattern)


@dataclass
class Options:
    targets: list[Target] = field(default_factory=lambda: [parse_target("onnx:18")])
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    dynamic: list[DynamicDim] = field(default_factory=list)
    mean: tuple[float, ...] | None = None  # declared input normalisation
    std: tuple[float, ...] | None = None
    train: bool = False  # capture in training mode (normally eval)
    recapture: bool = True  # run the model at other input sizes to find frozen sizes (EXL201)
    per_file_ignores: list[PerFileIgnore] = field(default_factory=list)
    # What may decide a conversion path besides the tables (`exportlint.decide`): "static" (tables
    # only), "auto" (also the ONNX paths' own translation), "confirm" (every installed converter).
    decide: str = "auto"
    require_default_path: bool = False  # a target counts as exportable only through its default path
    script: bool = False  # the TorchScript paths convert torch.jit.script's module, not a trace
    cache: bool = True  # reuse converter decisions made before for the same graphs (`decide.DecisionCache`)

    def enabled(self, code: str) -> bool:
        """`code` passes select (empty = ALL) and ignore, by code or prefix."""
        return matches_code(code, self.select or ["ALL"]) and not matches_code(code, self.ignore)

    def ignored_in(self, code: str, path: str) -> bool:
        return any(matches_code(code, list(p.codes)) and p.matches(path) for p in self.per_file_ignores)


def matches_code(code: str, prefixes: Iterable[str]) -> bool:
    return any(p == "ALL" or code.startswith(p) for p in prefixes)
