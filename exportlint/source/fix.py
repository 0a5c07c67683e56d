"""Source fixes: apply the rewrites that findings carry, as one LibCST transformation per file.

Never loses user code: LibCST round-trips comments and formatting; the fixed text is written into
the file itself (through a symlink, same inode and mode: see `write_through`), never into a file the
user cannot write or one that changed since it was read; a file that does not parse is left
byte-identical.
"""

from __future__ import annotations

import difflib
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from exportlint.engine.rule import Applicability, Finding
from exportlint.source.walker import check_file, check_source, python_files, source_rules

if TYPE_CHECKING:
    from exportlint.options import Options


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
    refused: str | None = None  # why the file was left untouched (does not parse, cannot be written)

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
    from exportlint.options import Options
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
            refused = None if diff else write_through(path, checked.unit.module.bytes, fixed.bytes)
            if refused:
                result = FileFix(path, remaining=result.remaining, refused=refused)
        files.append(result)
    return FixReport(files, written=not diff)


def _applied(finding: Finding) -> AppliedFix:
    loc = finding.location
    return AppliedFix(finding.code, loc.line, loc.column, finding.fix.applicability,
                      finding.fix.description)


def write_through(path: Path, original: bytes, data: bytes) -> str | None:
    """Write `data` into the file `path` resolves to, if it still holds `original`; else (or when the
    file is read-only or not writable by the user) write nothing and return why.

    In place, not `os.replace`: a replacement would turn a symlink into a copy, break hard links and
    ignore a read-only mode. The trade-off is crash safety: a rewrite in place can be cut half-way,
    so the original is first saved (fsync'd) beside the file and removed only once the new text is on
    disk; after a SIGKILL the `.NAME.*.exportlint-backup` left behind holds the original. The content
    is compared again through the handle that writes, so only an edit landing in that same instant
    can be lost."""
    real = Path(os.path.realpath(path))
    mode = real.stat().st_mode
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return "read-only file; file left unchanged"
    if not os.access(real, os.W_OK):
        return "not writable by you; file left unchanged"
    unchanged = "changed since it was read; file left unchanged"
    if real.read_bytes() != original:
        return unchanged
    try:
        fd, backup = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".exportlint-backup")
    except OSError as exc:
        return f"cannot save a backup beside it ({exc.strerror}); file left unchanged"
    with os.fdopen(fd, "wb") as out:
        out.write(original)
        os.fsync(out.fileno())
    with real.open("r+b") as fh:
        if fh.read() != original:
            os.unlink(backup)
            return unchanged
        fh.seek(0)
        fh.write(data)
        fh.truncate()
        os.fsync(fh.fileno())
    os.unlink(backup)  # kept if anything above failed half-way
    return None
