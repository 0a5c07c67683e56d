"""Deployment targets: `family[:version][+precision]` values such as `onnx:13`, `coreml:iOS16`, `tflite:gpu`,
`executorch:xnnpack+int8`, `onnx:17+qdq`.

What each family is (versions, conversion paths, reach, policies, precisions) lives in its unit under
`exportlint.families`; a `Target` is one version of one family, optionally quantized to one of the family's
`precisions`. A target with a precision gets every check of its base target (it must convert at all) plus the
quantization checks.
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
    precision: str = ""  # a key of the family's `precisions` ("int8", "qdq"); "" = as exported (float)

    def __str__(self) -> str:
        text = self.unit.target_text(self.version)
        return f"{text}+{self.precision}" if self.precision else text

    @property
    def base(self) -> Target:
        """The target without its precision: what the model must convert to before it is quantized."""
        return Target(self.family, self.version)

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
    """Parse `onnx:13`, `coreml:iOS16`, `coreml:ios16`, `tflite`, `tflite:gpu`, `tensorrt:10`,
    `executorch:xnnpack+int8`, `onnx:17+qdq`."""
    families = all_families()
    spec, _, precision = text.strip().partition("+")
    name, _, version = spec.partition(":")
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
    precision = precision.lower()
    if precision:
        known = unit.precisions.get(precision)
        if known is None or canonical not in known.versions:
            offered = [f"+{p} (at {', '.join(q.versions) if len(q.versions) < 4 else f'{q.versions[0]}..{q.versions[-1]}'})"
                       for p, q in unit.precisions.items()]
            raise UsageError(f"unknown target {text!r}: {name} precisions are {', '.join(offered) or 'none'}")
    return Target(name, canonical, precision)
