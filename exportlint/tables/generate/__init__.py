"""Table generators: `python -m exportlint.tables.generate [NAME ...] [--probe] [--out DIR]`.

Each module of this package generates one or more tables (e.g. `aten_onnx` writes
`aten-onnx.json`) from the installed converter libraries, and exposes
`generate(out_dir: pathlib.Path, probe: bool) -> list[pathlib.Path]`.
"""

import json
from pathlib import Path


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
