"""`onnx-onnx.json`: ONNX-dialect op availability per opset 9..23, from `onnx.defs`, for `.onnx` files.

An op is available at opset N when the schema with the largest `since_version <= N` exists and is
not deprecated (the rule of `onnx.defs.get_schema(name, N)`; the checker rejects deprecated ops).
Keys are `ai.onnx::OpType` (default domain only: opset numbers are the default domain's).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from pathlib import Path
from typing import Any

from exportlint.tables.generate import write_table
from exportlint.tables.generate.aten_onnx import compact, library_versions

GENERATOR_VERSION = "1"
OPSETS = tuple(range(9, 24))


def availability(history: list[Any], opset: int) -> tuple[str, Any]:
    """("available" | "deprecated" | "absent", schema in effect or None) at `opset`."""
    in_effect = [s for s in history if s.since_version <= opset]
    if not in_effect:
        return "absent", None
    schema = max(in_effect, key=lambda s: s.since_version)
    return ("deprecated" if schema.deprecated else "available"), schema


def entry(history: list[Any], opset: int) -> dict[str, Any]:
    state, schema = availability(history, opset)
    if state == "available":
        return {"status": "supported", "evidence": "spec", "availability": state,
                "since_version": schema.since_version}
    if state == "deprecated":
        return {"status": "unsupported", "evidence": "spec", "availability": state,
                "reason": f"deprecated in opset {schema.since_version}"}
    first = min(s.since_version for s in history)
    return {"status": "unsupported", "evidence": "spec", "availability": state,
            "reason": f"introduced in opset {first}"}


def build_table() -> dict[str, Any]:
    import onnx.defs

    history: dict[str, list[Any]] = defaultdict(list)
    for schema in onnx.defs.get_all_schemas_with_history():
        if schema.domain in ("", "ai.onnx"):
            history[schema.name].append(schema)
    ops = {f"ai.onnx::{name}": compact({str(n): entry(h, n) for n in OPSETS})
           for name, h in sorted(history.items())}
    counts = {str(n): sum(1 for h in history.values() if availability(h, n)[0] == "available")
              for n in OPSETS}
    return {
        "schema_version": 1, "dialect": "onnx", "family": "onnx",
        "versions": [str(n) for n in OPSETS],
        "provenance": {
            "generator": "exportlint.tables.generate.onnx_onnx",
            "generator_version": GENERATOR_VERSION,
            "generated": datetime.date.today().isoformat(),
            "libraries": {k: v for k, v in library_versions().items() if k == "onnx"},
            "sources": ["onnx.defs.get_all_schemas_with_history()"],
            "available_ops_per_opset": counts,
        },
        "dtypes": {"*": {"float64": {"status": "supported", "evidence": "spec"},
                         "int64": {"status": "supported", "evidence": "spec"}}},
        "ops": ops,
    }


def generate(out_dir: Path, probe: bool) -> list[Path]:
    return [write_table(out_dir, build_table())]
