"""Source fixes: apply the rewrites that findings carry, as one LibCST transformation per file.

Never loses user code: LibCST round-trips comments and formatting, the file is replaced atomically
(temporary file in the same directory + `os.replace`, mode kept), and a file that does not parse is
left byte-identical.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from exportlint.engine.rule import Applicability, Finding
from exportlint.source.walker import check_file, check_source, python_files, source_rules

if TYPE_CHECKING:
    from exportlint.config import Options


@dataclass(frozen=True)
class AppliedFix:
    code: str
    line: int
    column: int
    applicability: Applicability
    description: str


@dataclass
class FileFix:
    """What `fix_files` did to one file."""

    path: Path
    applied: list[AppliedFix] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)  # findings left after the fixes
    diff: str = ""  # unified diff of the change ("" when unchanged)
    refused: str | None = None  # why the file was left untouched (does not parse)

    @property
    def changed(self) -> bool:
        return bool(self.diff)


@dataclass
class FixReport:
    files: list[FileFix]
    written: bool  # False in diff mode: nothing was written

    @property
    def applied(self) -> list[AppliedFix]:
        return [fix for f in self.files for fix in f.applied]

    @property
    def remaining(self) -> list[Finding]:
        return [finding for f in self.files for finding in f.remaining]

    @property
    def changed(self) -> list[FileFix]:
        return [f for f in self.files if f.changed]

    @property
    def refused(self) -> list[FileFix]:
        return [f for f in self.files if f.refused]


def fix_files(
    paths: list[Path], unsafe: bool = False, diff: bool = False, options: "Options | None" = None
) -> FixReport:
    """Apply safe fixes (and unsafe ones with `unsafe`) to `paths`; with `diff`, write nothing."""
    from exportlint.config import Options
    from exportlint.suppress import apply_suppressions, suppressed_by

    options = options or Options()
    allowed = {Applicability.SAFE} | ({Applicability.UNSAFE} if unsafe else set())
    rules = source_rules(options)

    def unsuppressed(findings: list[Finding], data: bytes | None = None) -> list[Finding]:
        """What `check` would report of `findings` (its EXL002 aside): `data` is the fixed text."""
        return apply_suppressions(findings, options, {}, ran=rules, sources={str(path): data} if data else {})

    files = []
    for path in python_files(paths):
        checked = check_file(path, rules)
        if checked.unit is None:  # skipped (nothing to match), or a parse error: the only finding
            remaining = unsuppressed(checked.findings)
            refused = [f"{f.location}: {f.message}; file left unchanged" for f in remaining]
            files.append(FileFix(path, remaining=remaining, refused=next(iter(refused), None)))
            continue
        from exportlint.source.visit import apply_rewrites

        edits = [e for e in checked.unit.edits if e.finding.fix.applicability in allowed
                 and suppressed_by(e.finding, options) is None]
        fixed = apply_rewrites(checked.unit.module, {id(e.node): e.rewrite for e in edits})
        result = FileFix(path, remaining=unsuppressed(checked.findings))
        before, after = checked.unit.module.code, fixed.code
        if after != before:
            result.applied = [_applied(e.finding) for e in edits]
            result.remaining = unsuppressed(check_source(fixed.bytes, str(path), rules).findings, fixed.bytes)
            result.diff = "".join(
                difflib.unified_diff(
                    before.splitlines(keepends=True),
                    after.splitlines(keepends=True),
                    f"{path} (original)",
                    f"{path} (fixed)",
                )
            )
            if not diff:
                _write_atomically(path, fixed.bytes)
        files.append(result)
    return FixReport(files, written=not diff)


def _applied(finding: Finding) -> AppliedFix:
    loc = finding.location
    return AppliedFix(finding.code, loc.line, loc.column, finding.fix.applicability,
                      finding.fix.description)


def _write_atomically(path: Path, data: bytes) -> None:
    mode = path.stat().st_mode
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
