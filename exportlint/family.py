"""What a target family is: one class per deployment runtime, as `Rule` is one class per rule.

A `Family` subclass (one module under `exportlint.families`, found by discovery as rules are) carries
everything about its target: name and versions, the conversion paths a PyTorch model takes to it, how
it is reached from each front end (its own tables, or through ONNX at which opset), its dynamic-shape
policy, the real converter `decide` runs per path (`--confirm`), and its table generator and probe.
Adding a target is adding one module here plus its generated table (docs/adding-a-target.md).

Importing this module, or a family module, must not import torch or any converter: the source-only
pass reads target names through it.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ClassVar

from exportlint.discovery import collect

if TYPE_CHECKING:
    from exportlint.decide import Subject
    from exportlint.ir import OpGraph
    from exportlint.options import DynamicDim
    from exportlint.targets import Target

# What a conversion path is judged on: torch.export's ATen graph, or the TorchScript graph of
# torch.jit.trace (which keeps in-place ops, `contiguous`, `to`... and never sees torch.export).
EXPORT_GRAPH, TRACE_GRAPH = "export", "trace"


@dataclass(frozen=True)
class ConversionPath:
    """One way a user converts a PyTorch model to a target family."""

    name: str  # "dynamo", "torchscript", "export", "trace", "litert"
    graph: str  # EXPORT_GRAPH or TRACE_GRAPH
    call: str  # what the user calls, for messages


@dataclass(frozen=True)
class Precision:
    """A way to quantize a model for a family (`--target FAMILY:VERSION+NAME`): what the user runs, the
    versions it applies to, and its table of per-op outcomes (quantized / stays float / fails), proven by
    the family module's `probe_<name>(OneOp)` and built by its `build_<name>_table(records, probe_meta)`. A
    weight-only scheme (`weights_only`: which constants are stored in int8, per their size) is proven by the
    family module's own weight probes instead, `generate_<name>_table(out_dir, probe)`."""

    name: str  # "int8", "qdq": the `+suffix`
    versions: tuple[str, ...]  # the family versions it applies to
    call: str  # what the user runs, for messages and docs
    table: str  # "aten-executorch-int8": rules/tables/TABLE.json, rules/probes/TABLE.json
    libraries: tuple[str, ...]  # distributions whose versions decide it (table provenance)
    weights_only: bool = False  # int8 weights, float compute (Core ML's linear_quantize_weights)


# A model file (.onnx, .keras, SavedModel) has one way in: its family's converter.
DIRECT = ConversionPath("direct", EXPORT_GRAPH, "the family's converter")

# A runner converts `Subject` to `Target` for real: (converted, one-line detail). It raises ImportError
# when its library is missing ("not run") and the converter's own error when the model fails.
Runner = Callable[["Subject", "Target"], tuple[bool, str]]


class Family:
    """One deployment target family. Subclasses set the class attributes and override the hooks."""

    name: ClassVar[str]  # "onnx", "coreml", ...: the `--target NAME[:VERSION]` prefix
    title: ClassVar[str]  # "ONNX", "Core ML", ...: for docs and messages
    # Versions in ascending order ("supported from X" hints walk it), or capability levels / delegates
    # when `ordered` is False (then no upgrade hints).
    versions: ClassVar[tuple[str, ...]]
    default: ClassVar[str]
    ordered: ClassVar[bool] = True
    # The conversion paths from a PyTorch model, the converter's default path first.
    paths: ClassVar[tuple[ConversionPath, ...]]
    # Reached through another format when there is no table from the front end's dialect: the
    # intermediate family and, per version of this family, the version of the intermediate used
    # (TensorRT reads ONNX: {"8.6": "17", "10": "20"}). None: every dialect has its own table.
    via: ClassVar[str | None] = None
    via_versions: ClassVar[dict[str, str]] = {}
    # Distributions whose versions decide a conversion (decision cache keys, table provenance).
    libraries: ClassVar[tuple[str, ...]] = ()
    # The paths `decide` runs in "auto" mode even when the tables decide (a translation check, cheap).
    auto_paths: ClassVar[tuple[str, ...]] = ()
    # Versions that are a delegate inside a runtime that still runs the rest of the model elsewhere:
    # an op the delegate does not take makes the model slower, not unconvertible (table status
    # "fallback"); EXL101 reports a delegation summary for them.
    delegates: ClassVar[tuple[str, ...]] = ()
    # Ops the converter folds into the op that produces their input, per op: {op: producer ops}. Such a
    # node falls back alone (its one-op probe), never after those producers (BatchNorm into a convolution).
    folds: ClassVar[dict[str, tuple[str, ...]]] = {}
    # The functions of this family's module that convert for real, per conversion path name.
    runners: ClassVar[dict[str, str]] = {}
    # The family's own probe table: `table` (rules/tables/TABLE.json, rules/probes/TABLE.json) built
    # by its module's `build_table(records, probe_meta)` from the records of its `probe_case(OneOp)`.
    table: ClassVar[str | None] = None
    # Modules of `exportlint.tables.generate` that write this family's tables (families whose
    # generator predates the family unit).
    generators: ClassVar[tuple[str, ...]] = ()
    docs: ClassVar[str] = ""  # one paragraph for the generated docs: what is checked, how
    version_words: ClassVar[str] = "{version}"  # a version in messages: "opset {version}"
    # Dynamic-shape policy (EXL203), as data: versions that need every shape static, with why; and
    # (severity "error" | "warning", why) for a dynamic dim without a MIN..MAX range. `why` may use
    # {hint}: the `--dynamic` flag with a range for that dim.
    static_shapes: ClassVar[dict[str, str]] = {}
    unbounded_dims: ClassVar[tuple[str, str] | None] = None
    # Versions that compute in float16 by default (EXL601, EXL602), each with how to keep float32 there.
    fp16: ClassVar[dict[str, str]] = {}
    # Quantized precisions by `+suffix` (EXL61x): data plus a probe and a table builder per precision.
    precisions: ClassVar[dict[str, Precision]] = {}

    # -- names ------------------------------------------------------------------------------------

    @classmethod
    def target_text(cls, version: str) -> str:
        return f"{cls.name}:{version}"

    @classmethod
    def version_text(cls, version: str) -> str:
        """A version in words, for "supported from ..." hints ("opset 17", "TensorRT 10")."""
        return cls.version_words.format(version=version)

    # -- reach ------------------------------------------------------------------------------------

    @classmethod
    def route(cls, dialect: str, has_table: Callable[[str, str], bool]) -> list[tuple[str, str, str]]:
        """The hops (from, to, hop name) from a graph of `dialect` to this family; [] when a table
        (`has_table(dialect, family)`) gives the answer directly or no route is known."""
        if has_table(dialect, cls.name) or cls.via is None:
            return []
        hops = [] if dialect == cls.via else [(dialect, cls.via, f"{_hop_name(dialect)}->{cls.via}")]
        if hops and not has_table(dialect, cls.via):
            return []
        return [*hops, (cls.via, cls.name, f"{cls.via}->{cls.name}")]

    @classmethod
    def hop_version(cls, family: str, version: str) -> str:
        """The version of `family` (this one, or the intermediate) a hop to `version` of this family uses."""
        return version if family == cls.name else cls.via_versions[version]

    # -- policies ---------------------------------------------------------------------------------

    @classmethod
    def dynamic_problem(cls, dim: DynamicDim, version: str) -> tuple[str, str] | None:
        """(severity "error" or "warning", why) when a dim marked dynamic does not suit this version."""
        if version in cls.static_shapes:
            return "error", cls.static_shapes[version]
        if cls.unbounded_dims and (dim.min is None or dim.max is None):
            severity, why = cls.unbounded_dims
            return severity, why.format(hint=f"--dynamic {dim.input}:{dim.dim}={dim.name}:MIN..MAX")
        return None

    @classmethod
    def quant_ignored(cls, graph: OpGraph, precision: str) -> dict[str, str]:
        """The nodes `precision`'s quantizer leaves float by a pattern of its own, whatever its table says of each
        op: {node name: why} (NNCF's ignored patterns)."""
        return {}

    # -- the real converter -----------------------------------------------------------------------

    @classmethod
    def runner(cls, path: str) -> Runner | None:
        """The function that converts for real along `path` (None: never run here)."""
        name = cls.runners.get(path)
        return getattr(importlib.import_module(cls.__module__), name) if name else None

    # -- tables -----------------------------------------------------------------------------------

    @classmethod
    def generate(cls, out_dir: Path, probe: bool, budget: float | None = None,
                 precision: str | None = None) -> list[Path]:
        """Write this family's generated tables (`python -m exportlint.tables.generate NAME`), or only the
        table of one of its precisions (`NAME+PRECISION`); with `probe`, re-run its one-op probes first (for
        at most `budget` seconds, where supported)."""
        from exportlint.tables.probe import harness

        module = importlib.import_module(cls.__module__)
        own = [(cls.table, "probe_case", cls.libraries, "build_table")] if cls.table and not precision else []
        wanted = {name: p for name, p in cls.precisions.items() if precision in (None, name)}
        own += [(p.table, f"probe_{name}", p.libraries, f"build_{name}_table") for name, p in wanted.items()
                if not p.weights_only]
        out = [harness.generate_table(out_dir, table, f"{cls.__module__}:{fn}" if probe else None, libraries,
                                      getattr(module, build), budget) for table, fn, libraries, build in own]
        out += [getattr(module, f"generate_{name}_table")(out_dir, probe)
                for name, p in wanted.items() if p.weights_only]
        for name in cls.generators if not precision else ():
            out += importlib.import_module(f"exportlint.tables.generate.{name}").generate(out_dir, probe)
        return out


def _hop_name(dialect: str) -> str:
    return {"aten": "torch", "torchscript": "torch"}.get(dialect, dialect)


@cache
def all_families() -> dict[str, type[Family]]:
    """Families by name, in discovery order (module name). Every module of `exportlint.families`
    is imported; a class with a `name` of its own is a family."""
    import exportlint.families as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        importlib.import_module(f"{pkg.__name__}.{info.name}")
    found = collect(Family, "name")
    order = ("onnx", "coreml", "tflite", "tensorrt")  # the first four first, as the docs list them
    return dict(sorted(found.items(), key=lambda kv: (kv[0] not in order, order.index(kv[0])
                                                      if kv[0] in order else 0, kv[0])))


def family(name: str) -> type[Family]:
    return all_families()[name]


__all__ = ["DIRECT", "EXPORT_GRAPH", "TRACE_GRAPH", "ConversionPath", "Family", "Precision", "Runner", "all_families",
           "family"]
