"""`onnx-onnxruntime.json`: ONNX Runtime's CPU kernels per ai.onnx op and opset (for EXL111).

Facts from the installed onnxruntime (`onnxruntime.capi._pybind_state.get_all_opkernel_def()`, CPU
provider) joined with `onnx.defs`: at opset N an op is its schema in effect at N (`since_version` S),
and ONNX Runtime picks a kernel for it by its own rule (`kernel_registry.cc`, `VerifyVersion`): a kernel
registered from exactly S, or a versioned kernel whose closed range holds S (an open-ended kernel
registered before S does not match: ORT cannot know it supports the newer schema).

Entry at opset N: `status` "supported" with `kernels` (each kernel's type constraints, ONNX type
strings: `{"T": ["tensor(float)", "tensor(double)"]}`), or "unsupported" (no CPU kernel: ORT expands
the op's function body if the schema has one, else fails to load the model). Opsets where the op does
not exist carry `availability: absent`. Keys are `ai.onnx::OpType`; other domains are not covered.

A table rather than a live query: the linter runs without onnxruntime installed, the verdicts are
reproducible and name the ORT version they come from, and `get_all_opkernel_def` is a private API.
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from exportlint.tables.generate import write_table
from exportlint.tables.generate.aten_onnx import compact, library_versions
from exportlint.tables.generate.onnx_onnx import availability

GENERATOR_VERSION = "1"
FIRST_OPSET = 7  # ONNX Runtime's oldest supported opset
OPEN_END = 2**31 - 1  # ORT's INT_MAX: a kernel registered without an end version
# Ops ORT handles without a kernel: `Graph::Graph` (onnxruntime/core/graph/graph.cc) turns Constant
# nodes into initializers when it loads the model.
LOADER_HANDLED = {"Constant": "initializer"}


def kernel_matches(version_range: tuple[int, int], since_version: int) -> bool:
    """ORT's `VerifyVersion`: exact start, or a closed range holding the schema's since_version."""
    start, end = version_range
    return start == since_version or (end != OPEN_END and start <= since_version <= end)


def merged_constraints(kernels: list[dict[str, list[str]]]) -> list[dict[str, list[str]]]:
    """Kernels' type constraints, de-duplicated; one-constraint kernels merged per constraint name."""
    single: dict[str, set[str]] = defaultdict(set)
    multi: set[str] = set()
    for constraints in kernels:
        if len(constraints) == 1:
            (name, types), = constraints.items()
            single[name].update(types)
        else:
            multi.add(json.dumps({k: sorted(v) for k, v in constraints.items()}, sort_keys=True))
    out = [{name: sorted(types)} for name, types in sorted(single.items())]
    return out + [json.loads(m) for m in sorted(multi)]


def build_table() -> dict[str, Any]:
    import onnx.defs
    from onnxruntime.capi import _pybind_state

    cpu = defaultdict(list)  # op type -> [(version_range, type constraints)]
    for k in _pybind_state.get_all_opkernel_def():
        if k.provider == "CPUExecutionProvider" and k.domain in ("", "ai.onnx"):
            cpu[k.op_name].append((tuple(k.version_range), dict(k.type_constraints)))
    history: dict[str, list[Any]] = defaultdict(list)
    for schema in onnx.defs.get_all_schemas_with_history():
        if schema.domain in ("", "ai.onnx"):
            history[schema.name].append(schema)
    opsets = range(FIRST_OPSET, onnx.defs.onnx_opset_version() + 1)
    ops: dict[str, Any] = {}
    with_kernel = dict.fromkeys((str(n) for n in opsets), 0)
    for name, schemas in sorted(history.items()):
        per_version = {}
        for n in opsets:
            state, schema = availability(schemas, n)
            if state != "available":
                per_version[str(n)] = {"status": "unsupported", "evidence": "registry", "availability": state}
                continue
            since = schema.since_version
            kernels = [c for r, c in cpu.get(name, ()) if kernel_matches(r, since)]
            if name in LOADER_HANDLED:
                with_kernel[str(n)] += 1
                per_version[str(n)] = {"status": "supported", "evidence": "registry", "since_version": since,
                                       "kernels": [{}], "via": LOADER_HANDLED[name]}
            elif kernels:
                with_kernel[str(n)] += 1
                per_version[str(n)] = {"status": "supported", "evidence": "registry", "since_version": since,
                                       "kernels": merged_constraints(kernels)}
            else:
                per_version[str(n)] = {"status": "unsupported", "evidence": "registry", "since_version": since,
                                       "reason": f"no CPU kernel for {name}-{since}"}
        if any(e.get("since_version") for e in per_version.values()):
            ops[f"ai.onnx::{name}"] = compact(per_version)
    return {
        "schema_version": 1, "dialect": "onnx", "family": "onnxruntime",
        "versions": [str(n) for n in opsets],
        "provenance": {
            "generator": "exportlint.tables.generate.onnx_onnxruntime",
            "generator_version": GENERATOR_VERSION,
            "generated": datetime.date.today().isoformat(),
            "libraries": {k: v for k, v in library_versions().items() if k in ("onnx", "onnxruntime")},
            "sources": ["onnxruntime.capi._pybind_state.get_all_opkernel_def() (CPUExecutionProvider)",
                        "onnx.defs.get_all_schemas_with_history()"],
            "kernel_rule": "onnxruntime/core/framework/kernel_registry.cc VerifyVersion",
            "ops_with_cpu_kernel_per_opset": with_kernel,
        },
        "ops": ops,
    }


def generate(out_dir: Path, probe: bool) -> list[Path]:
    return [write_table(out_dir, build_table())]
