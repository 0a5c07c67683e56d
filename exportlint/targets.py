"""Deployment targets: `family[:version]` values such as `onnx:13`, `coreml:iOS16`, `tflite:gpu`.

What each family is (versions, conversion paths, reach, policies) lives in its unit under
`exportlint.families`; a `Target` is one version of one family.
"""

from __future__ import annotations

from dataclasses import dataclass

from exportlint.errors import UsageError
from exportlint.family import DIRECT, EXPORT_GRAPH, TRACE_GRAPH, ConversionPath, Family, all_families

__all__ = ["DIRECT", "EXPORT_GRAPH", "TRACE_GRAPH", "ConversionPath", "Target", "all_targets", "parse_target"]


@dataclass(frozen=True, order=True)
class Target:
    family: str
    version: str

    def __str__(self) -> str:
        return self.unit.target_text(self.version)

    @property
    def unit(self) -> type[Family]:
        """The family this target belongs to (`exportlint.families.<family>`)."""
        return all_families()[self.family]

    @property
    def versions(self) -> tuple[str, ...]:
        return self.unit.versions

    @property
    def fp16(self) -> str | None:
        """How to keep float32 when this target computes in float16 by default, else None."""
        return self.unit.fp16.get(self.version)

    def paths(self, dialect: str) -> tuple[ConversionPath, ...]:
        """The conversion paths from a graph of `dialect` ("aten" for PyTorch), default first."""
        return self.unit.paths if dialect in ("aten", "torchscript") else (DIRECT,)

    def later_versions(self) -> tuple[str, ...]:
        """Versions after this one, in order (for upgrade hints). Empty for unordered families
        (capability levels, delegates, devices)."""
        if not self.unit.ordered:
            return ()
        vs = self.versions
        return vs[vs.index(self.version) + 1 :]


def all_targets() -> list[Target]:
    """Every version of every family."""
    return [Target(f.name, v) for f in all_families().values() for v in f.versions]


def parse_target(text: str) -> Target:
    """Parse `onnx:13`, `coreml:iOS16`, `coreml:ios16`, `tflite`, `tflite:gpu`, `tensorrt:10`."""
    families = all_families()
    name, _, version = text.strip().partition(":")
    name = name.lower()
    if name not in families:
        raise UsageError(f"unknown target {text!r}: families are {', '.join(families)}")
    unit = families[name]
    if not version:
        version = unit.default
    by_lower = {v.lower(): v for v in unit.versions}
    canonical = by_lower.get(version.lower()) or by_lower.get(version.lower().removesuffix(".0"))
    if canonical is None:
        raise UsageError(f"unknown target {text!r}: {name} versions are {', '.join(unit.versions)}")
    return Target(name, canonical)
