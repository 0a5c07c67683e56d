"""`aten-coreml.json`: which ATen ops coremltools' torch frontend converts, per deployment target.

Claims come from coremltools' registries (`_TORCH_OPS_REGISTRY`, looked up like the converter does:
`sanitize_op_kind`, in-place folded into the functional op; the MIL ops a converter function builds and
their first target in `SSAOpRegistry.core_ops`); proof comes from the committed probe results in
`rules/probes/aten-coreml.json` (`--probe` re-runs them: `coremltools.convert` of one-op models at
iOS15..iOS18).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

from exportlint.family import family
from exportlint.tables.probe import harness

GENERATOR_VERSION = "1"
VERSIONS = family("coreml").versions
LIBRARIES = ("torch", "coremltools", "numpy")
_NARROWED = ("Core ML has no 64-bit tensors: coremltools casts {0} inputs and constants to {1} "
             "silently (no MIL op type domain holds {0})")
DTYPES = {"*": {
    "float64": {"status": "narrowed", "evidence": "docs", "reason": _NARROWED.format("float64", "float32")},
    "int64": {"status": "narrowed", "evidence": "docs", "reason": _NARROWED.format("int64", "int32")},
    **{d: {"status": "supported", "evidence": "docs"} for d in ("float32", "float16", "int32", "bool")},
}}


def mil_min_targets() -> dict[str, str]:
    """MIL op -> first iOS target (iOS15 at least, the mlprogram minimum) whose opset has it."""
    from coremltools.converters.mil.mil.ops.registry import SSAOpRegistry

    return {name: max(min(by_target, key=lambda t: t.value).name, VERSIONS[0], key=by_target_value)
            for name, by_target in SSAOpRegistry.core_ops.items() if by_target}


def by_target_value(name: str) -> int:
    import coremltools as ct

    return getattr(ct.target, name).value


def registry_entries() -> dict[str, dict[str, dict[str, Any]]]:
    """Entries for every functional ATen overload from coremltools' torch frontend registry."""
    from coremltools.converters.mil.frontend.torch.torch_op_registry import _TORCH_OPS_REGISTRY

    mil_first = mil_min_targets()
    ops: dict[str, dict[str, dict[str, Any]]] = {}
    for overload in harness.aten_overloads():
        key = str(overload)
        func = _TORCH_OPS_REGISTRY.get_func(key)
        if func is None:
            if harness.is_composite_implicit(overload):
                entry = {"status": "unverified", "evidence": "registry",
                         "reason": "no converter; torch.export decomposes it (CompositeImplicitAutograd) "
                                   "unless it is preserved"}
            else:
                entry = {"status": "unsupported", "evidence": "registry",
                         "reason": f"coremltools has no torch frontend converter for '{key}'"}
            ops[key] = {"*": entry}
            continue
        ops[key] = converter_claim(func, mil_first)
    return ops


def converter_claim(func: Any, mil_first: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The registry's claim for a registered converter function, per target: "unverified", with the
    MIL ops it builds that a target lacks as conditions."""
    used = sorted(set(re.findall(r"\bmb\.(\w+)", inspect.getsource(func))) & mil_first.keys())
    first = max((mil_first[m] for m in used), key=by_target_value, default=VERSIONS[0])
    claim = {"status": "unverified", "evidence": "registry",
             "reason": f"registered converter '{func.__name__}' (not probed)"}
    per_version = {}
    for v in VERSIONS:
        if by_target_value(v) >= by_target_value(first):
            per_version[v] = claim
        else:
            late = [m for m in used if by_target_value(mil_first[m]) > by_target_value(v)]
            per_version[v] = {**claim, "note": f"builds MIL ops first available in {first} "
                              f"({', '.join(late)}); may need {first}"}
    return harness.collapse(per_version, VERSIONS)


def registry_counts() -> dict[str, Any]:
    from coremltools.converters.mil.frontend.torch.torch_op_registry import _TORCH_OPS_REGISTRY
    from coremltools.converters.mil.mil.ops.registry import SSAOpRegistry

    return {"torch_frontend_keys": len(_TORCH_OPS_REGISTRY.name_to_func_mapping),
            "mil_ops_per_target": {v: sum(any(t.name == v for t in by_target)
                                          for by_target in SSAOpRegistry.core_ops.values())
                                   for v in VERSIONS}}


def build_table(records: list[harness.ProbeRecord], probe_meta: dict[str, Any]) -> dict[str, Any]:
    return harness.assemble(
        "coreml", VERSIONS, registry_entries(), harness.merge(records, VERSIONS, "mil_ops"), records, probe_meta,
        generator=__name__, generator_version=GENERATOR_VERSION, libraries=LIBRARIES, sources=[
            "coremltools.converters.mil.frontend.torch.torch_op_registry._TORCH_OPS_REGISTRY",
            "coremltools.converters.mil.frontend.torch.utils.sanitize_op_kind",
            "coremltools.converters.mil.mil.ops.registry.SSAOpRegistry.core_ops",
            "probes: coremltools.convert(ExportedProgram.run_decompositions({}), "
            "convert_to='mlprogram', minimum_deployment_target=iOS15..iOS18); conversion only "
            "(prediction needs macOS)",
        ],
        registry=registry_counts(), dtypes=DTYPES)


def generate(out_dir: Path, probe: bool) -> list[Path]:
    probe_fn = "exportlint.tables.probe.coreml:probe_case" if probe else None
    return [harness.generate_table(out_dir, "aten-coreml", probe_fn, LIBRARIES, build_table)]
