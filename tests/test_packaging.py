"""`pip install .` ships the tables and every package of the tree (the package list is explicit)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from conftest import ROOT


def test_package_list_covers_the_tree():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "exportlint").rglob("__init__.py")}
    assert found | {"exportlint.ruledata"} == listed


def test_wheel_contains_tables_and_rules(tmp_path: Path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("exportlint-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    tables = {p.name for p in (ROOT / "rules" / "tables").glob("*.json")}
    assert tables, "no tables generated under rules/tables"
    assert {f"exportlint/ruledata/tables/{t}" for t in tables} <= names
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "exportlint").rglob("*.py")}
    assert modules <= names
    assert any(n.endswith("entry_points.txt") for n in names)
    page = {f"exportlint/report/{p.relative_to(ROOT / 'exportlint' / 'report').as_posix()}"
            for sub in ("assets", "vendor") for p in (ROOT / "exportlint" / "report" / sub).rglob("*") if p.is_file()}
    assert {"exportlint/report/vendor/dagre/dagre.min.js", "exportlint/report/vendor/dagre/LICENSE"} <= page <= names
