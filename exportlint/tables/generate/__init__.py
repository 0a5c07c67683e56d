"""Table generators: `python -m exportlint.tables.generate [NAME ...] [--probe] [--out DIR]`.

Each module of this package generates one or more tables (e.g. `aten_onnx` writes
`aten-onnx.json`) from the installed converter libraries, and exposes
`generate(out_dir: pathlib.Path, probe: bool) -> list[pathlib.Path]`.
"""
