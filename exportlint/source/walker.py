"""The source-only pass: find the files, skip those no rule can match, parse the others once, run
every source rule that may match in one traversal."""

from __future__ import annotations

import ast
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from exportlint.engine.rule import Finding
from exportlint.errors import LoadError, UsageError, read_regular_file
from exportlint.ir import Location
from exportlint.source.rule import SourceRule

if TYPE_CHECKING:
    from exportlint.config import Options
    from exportlint.source.rule import SourceUnit

SKIP_DIRS = ("__pycache__", "node_modules", "site-packages", "build", "dist")  # and hidden ones
SOURCE_SUFFIXES = (".py", ".pyw")  # what a directory walk checks


def skipped_dir(name: str) -> bool:
    return name.startswith(".") or name in SKIP_DIRS


def python_files(paths: Iterable[Path], skipped: list[Path] | None = None) -> list[Path]:
    """Files as given, and `*.py`/`*.pyw` under directories, where hidden and build directories
    (`SKIP_DIRS`) are not walked: they are appended to `skipped`. A path that exists but is no
    regular file (a FIFO, a broken symlink) is kept: checking it reports why (EXL003)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                if skipped is not None:
                    skipped.extend(Path(root, d) for d in sorted(dirs) if skipped_dir(d))
                dirs[:] = sorted(d for d in dirs if not skipped_dir(d))
                found.extend(Path(root, f) for f in sorted(files) if f.endswith(SOURCE_SUFFIXES))
        elif os.path.lexists(path):
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


# libcst 1.9's native parser overflows its stack (SIGSEGV, rc 139) at ~5000 nested parentheses or
# ~10000 unary operators. CPython refuses more than 200 nested parentheses, 99 indentation levels and
# ~3000-deep expressions with an error, and LibCST parses all it accepts (measured for each kind of
# nesting): so CPython compiles a file first, and what it refuses never reaches LibCST.
# Walking a ~3000-deep tree (a 2990-term sum) takes ~4 frames a level.
RECURSION_LIMIT = 20_000


def check_source(data: bytes, path: str, rules: Sequence[type[SourceRule]]) -> Checked:
    """Parse `data` with LibCST and run `rules`; a parse failure (when EXL500 is among `rules`) or a
    crashing rule becomes a finding."""
    import libcst as cst

    from exportlint.checks.load import InputNotLoaded
    from exportlint.checks.source_syntax import UnparsableSource
    from exportlint.source.visit import walk

    unparsable = _syntax_error(data, path)
    if unparsable is not None:
        return Checked([unparsable] if UnparsableSource in rules else [])
    try:
        module = cst.parse_module(data)
        unit = walk(module, path, rules)
    except cst.ParserSyntaxError as exc:  # syntax LibCST does not know, though CPython does
        unparsable = UnparsableSource.at(path, exc.editor_line, exc.editor_column, exc.message)
        return Checked([unparsable] if UnparsableSource in rules else [])
    except RecursionError:
        error = LoadError(f"{path}: nested too deeply for the source pass (over {RECURSION_LIMIT} frames)")
        return Checked([InputNotLoaded.at(path, error, Location(path, 1, 1))])
    return Checked(unit.findings, unit)


def _syntax_error(data: bytes, path: str) -> Finding | None:
    """EXL500 at CPython's syntax error in `data`, if any: no LibCST needed. Raises the recursion
    limit for the deep trees that CPython accepts (for the walk in `check_source` too)."""
    from exportlint.checks.source_syntax import UnparsableSource

    sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))
    try:
        compile(data, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as err:
        return UnparsableSource.at(path, err.lineno or 1, err.offset or 1, err.msg)
    except (ValueError, UnicodeDecodeError, RecursionError, MemoryError) as exc:  # null bytes, too deep
        return UnparsableSource.at(path, 1, 1, f"{type(exc).__name__}: {exc}")
    return None


def check_file(path: Path, rules: Sequence[type[SourceRule]]) -> Checked:
    """Cheap before expensive: a file without `torch` is skipped, and one that none of `rules`
    may match (by their needles) is only syntax-checked by CPython, for EXL500. A file that cannot
    be read is an EXL003 finding."""
    from exportlint.checks.load import InputNotLoaded

    try:
        data = read_regular_file(path)
    except LoadError as exc:
        return Checked([InputNotLoaded.at(str(path), exc, Location(str(path), 1, 1))])
    return check_text(data, str(path), rules)


def check_text(data: bytes, path: str, rules: Sequence[type[SourceRule]]) -> Checked:
    """`check_file` on a file's contents (an editor's unsaved buffer, for the language server)."""
    from exportlint.checks.source_syntax import UnparsableSource

    if b"torch" not in data:
        return Checked([])
    wanted = [r for r in rules if r.wants(data)]
    if wanted:
        return check_source(data, path, [*wanted, *(r for r in rules if r is UnparsableSource)])
    unparsable = _syntax_error(data, path) if UnparsableSource in rules else None
    return Checked([unparsable] if unparsable else [])


def check_files(paths: list[Path], options: "Options | None" = None) -> list[Finding]:
    """Findings of the source rules over `paths` (files or directories), in file/line order."""
    from exportlint.engine.engine import finding_order

    rules = source_rules(options)
    findings: list[Finding] = []
    for path in python_files(paths):
        findings.extend(check_file(path, rules).findings)
    return sorted(findings, key=finding_order)
