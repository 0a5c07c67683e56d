"""Table generators: `python -m exportlint.tables.generate [NAME ...] [--probe] [--out DIR]`.

Each module of this package generates one or more tables (e.g. `aten_onnx` writes
`aten-onnx.json`) from the installed converter libraries, and exposes
`generate(out_dir: pathlib.Path, probe: bool) -> list[pathlib.Path]`.
"""

import datetime
import json
from pathlib import Path
from typing import Any


def write_table(out_dir: Path, table: dict) -> Path:
    """Write `table` as `OUT_DIR/<dialect>-<family>.json`: the one writer of every table. Keys sorted, a line
    per top-level key and per op (stable, reviewable diffs without the size of an indented dump)."""
    path = Path(out_dir) / f"{table['dialect']}-{table['family']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)

    def dumps(value) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    fields = [f" {json.dumps(k)}: {dumps(v)}" for k, v in sorted(table.items()) if k != "ops"]
    ops = ",\n".join(f"  {json.dumps(op)}: {dumps(e)}" for op, e in sorted(table["ops"].items()))
    path.write_text("{\n" + ",\n".join([*fields, f' "ops": {{\n{ops}\n }}']) + "\n}\n", encoding="utf-8")
    return path


def docs_table(family: str, versions: list[str], generator: str, generator_version: str, libraries: dict[str, str],
               sources: list[str], ops: dict[str, Any], **provenance: Any) -> dict[str, Any]:
    """A table of documented facts about ONNX ops (onnx-tensorrt, onnx-ort): every `ai.onnx` op ONNX defines,
    plus the ops the documents list (`ops`: {op: {version: ENTRY}} for them all)."""
    return {"schema_version": 1, "dialect": "onnx", "family": family, "versions": versions,
            "provenance": {"generator": generator, "generator_version": generator_version,
                           "generated": datetime.date.today().isoformat(), "libraries": libraries,
                           "sources": sources, **provenance},
            "ops": ops}


def onnx_op_names(listed: set[str]) -> list[str]:
    """Every op of ONNX's default domain (`ai.onnx::Name`), with the `listed` ones, sorted."""
    import onnx.defs

    return sorted({f"ai.onnx::{s.name}" for s in onnx.defs.get_all_schemas_with_history() if s.domain == ""} | listed)
