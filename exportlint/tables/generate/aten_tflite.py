"""`aten-tflite.json`: which ATen ops litert-torch (ai-edge-torch) converts to TFLite, per capability
level: `builtins`, `select` (select-TF/flex ops allowed), `gpu` (GPU delegate).

Claims come from litert-torch's registries (lowerings `global_registry.registered_ops`, decompositions
`pre_convert_decomp()` / `pre_lower_decomp()`); proof comes from the committed probe results in
`rules/probes/aten-tflite.json` (`--probe` re-runs them: convert, read the TFLite ops, run in the
LiteRT interpreter, compare with PyTorch). `gpu` applies LiteRT's gpu_compatibility.cc rules to the ops
the probe produced: a static estimate (no GPU here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exportlint.family import family
from exportlint.tables.probe import harness
from exportlint.tables.probe.litert import GPU_BOOL_OPS, GPU_INT32_OPS, GPU_OPS, GPU_SOURCE, gpu_blockers

GENERATOR_VERSION = "1"
VERSIONS = family("tflite").versions
LIBRARIES = ("torch", "litert-torch", "ai-edge-torch", "ai-edge-litert", "jax")
_GPU_DTYPE = "the GPU delegate computes in float32/float16"
DTYPES = {
    "builtins": {
        **{d: {"status": "supported", "evidence": "docs"}
           for d in ("float32", "float16", "int32", "int8", "uint8", "bool")},
        "int64": {"status": "narrowed", "evidence": "probe",
                  "reason": "litert-torch gives int64 tensors int32 types: the model's inputs become int32 "
                            "(probes of gather, embedding, index_select)"},
        "float64": {"status": "narrowed", "evidence": "docs",
                    "reason": "litert-torch lowers float64 to float32 (TFLite builtin kernels are 32-bit)"},
    },
    "gpu": {
        **{d: {"status": "supported", "evidence": "docs"} for d in ("float32", "float16")},
        "int32": {"status": "unsupported", "evidence": "docs", "reason": _GPU_DTYPE,
                  "note": f"accepted as inputs of {', '.join(sorted(GPU_INT32_OPS))}"},
        **{d: {"status": "unsupported", "evidence": "docs", "reason": _GPU_DTYPE}
           for d in ("int64", "float64", "int8", "uint8")},
        "bool": {"status": "unsupported", "evidence": "docs", "reason": _GPU_DTYPE,
                 "note": f"accepted as inputs of {', '.join(sorted(GPU_BOOL_OPS))}"},
    },
}
DTYPES["select"] = DTYPES["builtins"]


def registry_entries() -> dict[str, dict[str, dict[str, Any]]]:
    """Entries for every functional ATen overload from litert-torch's lowering and decomposition tables."""
    from litert_torch.backend.lowerings.registry import global_registry
    from litert_torch.fx_infra import decomp

    lowered = {str(op) for op in global_registry.registered_ops}
    decomposed = {str(op) for op in [*decomp.pre_convert_decomp(), *decomp.pre_lower_decomp()]}
    ops: dict[str, dict[str, dict[str, Any]]] = {}
    for overload in harness.aten_overloads():
        key = str(overload)
        if key in lowered:
            entry = {"status": "unverified", "evidence": "registry", "reason": "has a lowering (not probed)"}
        elif key in decomposed:
            entry = {"status": "unverified", "evidence": "registry",
                     "reason": "decomposed by litert-torch before lowering (not probed)"}
        elif harness.is_composite_implicit(overload):
            entry = {"status": "unverified", "evidence": "registry",
                     "reason": "no lowering; torch.export decomposes it (CompositeImplicitAutograd) "
                               "unless it is preserved"}
        else:
            entry = {"status": "unsupported", "evidence": "registry", "reason": f"Lowering not found: {key}"}
        ops[key] = {"*": entry}
    return ops


def registry_counts() -> dict[str, int]:
    from litert_torch.backend.lowerings.registry import global_registry
    from litert_torch.fx_infra import decomp

    def aten(ops) -> int:  # other namespaces' entries depend on what the process imported (executorch adds its own)
        return sum(str(op).startswith("aten.") for op in ops)

    return {"lowerings": aten(global_registry.registered_ops),
            "pre_convert_decompositions": aten(decomp.pre_convert_decomp()),
            "pre_lower_decompositions": aten(decomp.pre_lower_decomp())}


def with_gpu(record: harness.ProbeRecord) -> harness.ProbeRecord:
    """The record with a `gpu` result: builtins must work and every node pass the GPU rules."""
    if record.error or "builtins" not in record.results:
        return record
    builtin = record.results["builtins"]
    blockers = gpu_blockers(record.nodes) if builtin is None else []
    record.results["gpu"] = builtin if builtin is not None else (
        f"GPU delegate: {blockers[0]}" if blockers else None)
    return record


def _note(record: harness.ProbeRecord, version: str) -> str:
    if version != "gpu":
        return record.note
    checks = sorted({m for op, _ in record.nodes for m in GPU_OPS.get(op, ())})
    return "; ".join(filter(None, ["static estimate from gpu_compatibility.cc", record.note,
                                   f"delegate also checks: {' '.join(checks)}" if checks else ""]))


def build_table(records: list[harness.ProbeRecord], probe_meta: dict[str, Any]) -> dict[str, Any]:
    records = [with_gpu(r) for r in records]
    return harness.assemble(
        "tflite", VERSIONS, registry_entries(), harness.merge(records, VERSIONS, "tflite_ops", _note), records,
        probe_meta,
        generator=__name__, generator_version=GENERATOR_VERSION, libraries=LIBRARIES, sources=[
            "litert_torch.backend.lowerings.registry.global_registry.registered_ops",
            "litert_torch.fx_infra.decomp.pre_convert_decomp() / pre_lower_decomp()",
            "probes: litert_torch.convert + ai_edge_litert.interpreter run compared with PyTorch "
            "(select-TF models: conversion only, no flex delegate here)",
            f"gpu: {GPU_SOURCE}",
        ],
        registry=registry_counts(), dtypes=DTYPES)


def generate(out_dir: Path, probe: bool) -> list[Path]:
    probe_fn = "exportlint.tables.probe.litert:probe_case" if probe else None
    return [harness.generate_table(out_dir, "aten-tflite", probe_fn, LIBRARIES, build_table)]
