"""Table generators: `python -m exportlint.tables.generate [NAME ...] [--probe] [--out DIR]`.

Each module of this package generates one or more tables (e.g. `aten_onnx` writes
`aten-onnx.json`) from the installed converter libraries, and exposes
`generate(out_dir: pathlib.Path, probe: bool) -> list[pathlib.Path]`.
"""

import json
from pathlib import Path


def write_table(out_dir: Path, table: dict) -> Path:
    """Write `table` as `OUT_DIR/<dialect>-<family>.json` (compact, keys sorted: stable diffs)."""
    path = Path(out_dir) / f"{table['dialect']}-{table['family']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
    return path
