"""Deployment targets: `family[:version]` values such as `onnx:13`, `coreml:iOS16`, `tflite:gpu`."""

from __future__ import annotations

from dataclasses import dataclass

from exportlint.errors import UsageError

# Versions of each family in ascending order. "Supported from X" hints walk this order.
FAMILIES: dict[str, tuple[str, ...]] = {
    "onnx": tuple(str(n) for n in range(9, 24)),
    "coreml": ("iOS15", "iOS16", "iOS17", "iOS18"),
    # tflite variants are not versions but capability levels: builtins ⊂ builtins+select-TF; gpu is a
    # delegate on top of builtins.
    "tflite": ("builtins", "select", "gpu"),
    "tensorrt": ("8.6", "10"),
}
DEFAULT_VERSION = {"onnx": "18", "coreml": "iOS16", "tflite": "builtins", "tensorrt": "10"}

# What a conversion path is judged on: torch.export's ATen graph, or the TorchScript graph of
# torch.jit.trace (which keeps in-place ops, `contiguous`, `to`... and never sees torch.export).
EXPORT_GRAPH, TRACE_GRAPH = "export", "trace"


@dataclass(frozen=True)
class ConversionPath:
    """One way a user converts a PyTorch model to a target family."""

    name: str  # "dynamo", "torchscript", "export", "trace", "litert"
    graph: str  # EXPORT_GRAPH or TRACE_GRAPH
    call: str  # what the user calls, for messages


# Per family, the converter's default path first.
TORCH_PATHS: dict[str, tuple[ConversionPath, ...]] = {
    "onnx": (ConversionPath("dynamo", EXPORT_GRAPH, "torch.onnx.export(dynamo=True)"),
             ConversionPath("torchscript", TRACE_GRAPH, "torch.onnx.export(dynamo=False)")),
    "coreml": (ConversionPath("export", EXPORT_GRAPH, "ct.convert(ExportedProgram.run_decompositions({}))"),
               ConversionPath("trace", TRACE_GRAPH, "ct.convert(torch.jit.trace(model, inputs))")),
    "tflite": (ConversionPath("litert", EXPORT_GRAPH, "litert_torch.convert"),),
    # TensorRT parses ONNX: judged through the default exporter's ONNX (the ONNX hop of the tables).
    "tensorrt": (ConversionPath("dynamo", EXPORT_GRAPH, "torch.onnx.export(dynamo=True), then TensorRT"),),
}
# A model file (.onnx, .keras, SavedModel) has one way in: its family's converter.
DIRECT = ConversionPath("direct", EXPORT_GRAPH, "the family's converter")


@dataclass(frozen=True, order=True)
class Target:
    family: str
    version: str

    def __str__(self) -> str:
        if self.family == "tflite" and self.version == "builtins":
            return "tflite"
        return f"{self.family}:{self.version}"

    @property
    def versions(self) -> tuple[str, ...]:
        return FAMILIES[self.family]

    def paths(self, dialect: str) -> tuple[ConversionPath, ...]:
        """The conversion paths from a graph of `dialect` ("aten" for PyTorch), default first."""
        return TORCH_PATHS[self.family] if dialect in ("aten", "torchscript") else (DIRECT,)

    def later_versions(self) -> tuple[str, ...]:
        """Versions after this one, in order (for upgrade hints). Empty for tflite capability levels."""
        if self.family == "tflite":
            return ()
        vs = self.versions
        return vs[vs.index(self.version) + 1 :]


def parse_target(text: str) -> Target:
    """Parse `onnx:13`, `coreml:iOS16`, `coreml:ios16`, `tflite`, `tflite:gpu`, `tensorrt:10`."""
    family, _, version = text.strip().partition(":")
    family = family.lower()
    if family not in FAMILIES:
        raise UsageError(f"unknown target {text!r}: families are {', '.join(FAMILIES)}")
    if not version:
        version = DEFAULT_VERSION[family]
    by_lower = {v.lower(): v for v in FAMILIES[family]}
    canonical = by_lower.get(version.lower()) or by_lower.get(version.lower().removesuffix(".0"))
    if canonical is None:
        raise UsageError(
            f"unknown target {text!r}: {family} versions are {', '.join(FAMILIES[family])}"
        )
    return Target(family, canonical)
