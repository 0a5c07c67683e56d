"""The source-only pass: find the files, skip those no rule can match, parse the others once, run
every source rule that may match in one traversal."""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from exportlint.engine.rule import Finding
from exportlint.errors import UsageError
from exportlint.source.rule import SourceRule

if TYPE_CHECKING:
    from exportlint.config import Options
    from exportlint.source.rule import SourceUnit

_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "build", "dist"}


def python_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given, and `*.py` under directories (hidden and build directories skipped)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
                found.extend(Path(root, f) for f in sorted(files) if f.endswith(".py"))
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"no such file or directory: {path}")
    return found


def source_rules(options: "Options | None" = None) -> list[type[SourceRule]]:
    """The registry's source rules, after the options' select/ignore."""
    from exportlint.config import Options
    from exportlint.engine.registry import select, source_rules as registered

    return select(registered(), options or Options())


@dataclass
class Checked:
    """One file after the pass: its findings, the fixes they carry, and its tree (None: not parsed)."""

    findings: list[Finding]
    unit: SourceUnit | None = None


def check_source(data: bytes, path: str, rules: Sequence[type[SourceRule]]) -> Checked:
    """Parse `data` with LibCST and run `rules`; a parse failure (when EXL500 is among `rules`) or a
    crashing rule becomes a finding."""
    import libcst as cst

    from exportlint.checks.source_syntax import UnparsableSource
    from exportlint.source.visit import walk

    try:
        module = cst.parse_module(data)
    except cst.ParserSyntaxError as exc:
        # CPython's parser places the error more precisely than LibCST's
        fallback = UnparsableSource.at(path, exc.editor_line, exc.editor_column, exc.message)
        return Checked([_syntax_error(data, path) or fallback] if UnparsableSource in rules else [])
    except (UnicodeDecodeError, SyntaxError, RecursionError) as exc:
        unparsable = UnparsableSource.at(path, 1, 1, f"{type(exc).__name__}: {exc}")
        return Checked([unparsable] if UnparsableSource in rules else [])
    unit = walk(module, path, rules)
    return Checked(unit.findings, unit)


def _syntax_error(data: bytes, path: str) -> Finding | None:
    """EXL500 at CPython's syntax error in `data`, if any: no LibCST needed."""
    from exportlint.checks.source_syntax import UnparsableSource

    try:
        compile(data, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as err:
        return UnparsableSource.at(path, err.lineno or 1, err.offset or 1, err.msg)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # e.g. null bytes
        return UnparsableSource.at(path, 1, 1, f"{type(exc).__name__}: {exc}")
    return None


def check_file(path: Path, rules: Sequence[type[SourceRule]]) -> Checked:
    """Cheap before expensive: a file without `torch` is skipped, and one that none of `rules`
    may match (by their needles) is only syntax-checked by CPython, for EXL500."""
    from exportlint.checks.source_syntax import UnparsableSource

    data = path.read_bytes()
    if b"torch" not in data:
        return Checked([])
    wanted = [r for r in rules if r.wants(data)]
    if wanted:
        return check_source(data, str(path), [*wanted, *(r for r in rules if r is UnparsableSource)])
    unparsable = _syntax_error(data, str(path)) if UnparsableSource in rules else None
    return Checked([unparsable] if unparsable else [])


def check_files(paths: list[Path], options: "Options | None" = None) -> list[Finding]:
    """Findings of the source rules over `paths` (files or directories), in file/line order."""
    from exportlint.engine.engine import finding_order

    rules = source_rules(options)
    findings: list[Finding] = []
    for path in python_files(paths):
        findings.extend(check_file(path, rules).findings)
    return sorted(findings, key=finding_order)
