"""Suppression comments and per-file ignores, applied to the findings of a run.

    x = F.grid_sample(x, grid)  # exportlint: ignore[EXL101]
    x = F.hardswish(x)          # exportlint: ignore[EXL101, EXL3]   (codes or prefixes)
    x = weird(x)                # exportlint: ignore                 (every code on this line)

A comment applies to findings located on its own line. A suppression in the run's scope that
suppresses nothing becomes an EXL002 finding (unused-suppression), so stale comments do not pile up.
Comments are read with `tokenize`: the text inside a string literal is not a suppression.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from stat import S_ISREG
from typing import TYPE_CHECKING, Iterable, Mapping

from exportlint.engine.rule import Finding, Rule
from exportlint.ir import Location

if TYPE_CHECKING:
    from exportlint.options import Options
    from exportlint.ir import OpGraph

_COMMENT = re.compile(r"#\s*exportlint:\s*ignore\b(?:\[(?P<codes>[^\]]*)\])?", re.I)

# path -> the lines whose suppressions count (None: every line of the file)
Scope = Mapping[str, "set[int] | None"]


@dataclass(frozen=True)
class Suppression:
    location: Location
    codes: tuple[str, ...] | None  # codes or prefixes; None: every code

    def covers(self, code: str) -> bool:
        return self.codes is None or any(code.startswith(c) for c in self.codes)


def parse_comment(comment: str) -> tuple[str, ...] | None | bool:
    """The codes of an `exportlint: ignore[...]` comment, None for a bare one, False if none."""
    m = _COMMENT.search(comment)
    if m is None:
        return False
    if m["codes"] is None:
        return None
    return tuple(c.upper() for c in re.split(r"[\s,]+", m["codes"]) if c)


def read_suppressions(path: str, data: bytes | None = None) -> tuple[Suppression, ...]:
    """The suppressions of the file at `path`, or of `data` when given (a fixed text not yet written)."""
    if data is not None:
        return _parse(data, path)
    p = Path(path)
    try:
        stat = p.stat()
    except OSError:
        return ()
    if not S_ISREG(stat.st_mode):  # a FIFO would block the read forever
        return ()
    return _read(str(p.resolve()), path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _read(resolved: str, path: str, _mtime: int, _size: int) -> tuple[Suppression, ...]:
    try:
        return _parse(Path(resolved).read_bytes(), path)
    except OSError:
        return ()


def _parse(data: bytes, path: str) -> tuple[Suppression, ...]:
    if b"exportlint" not in data:  # cheap before expensive
        return ()
    found = []
    try:
        for tok in tokenize.tokenize(io.BytesIO(data).readline):
            if tok.type == tokenize.COMMENT:
                codes = parse_comment(tok.string)
                if codes is not False:
                    found.append(Suppression(Location(path, tok.start[0], tok.start[1] + 1), codes))
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        pass  # keep what was read; the source rules report unparsable files
    return tuple(found)


def graph_scope(graph: OpGraph) -> dict[str, set[int]]:
    """The lines a captured model runs through: suppressions elsewhere in its files belong to other
    models (one file may define several) and are not reported as unused for this one."""
    scope: dict[str, set[int]] = {}
    locations: list[Location] = []
    for node in graph.nodes(None):
        if node.location:
            locations.append(node.location)
        locations.extend(node.stack)
    info = graph.capture
    locations.extend(l for l in (info.failure_location, *info.specialization_location.values()) if l)
    for loc in locations:
        if not loc.path.startswith("<"):
            scope.setdefault(loc.path, set()).add(loc.line)
    return scope


def suppressed_by(f: Finding, options: Options, sources: Mapping[str, bytes] = {}) -> list[Suppression] | None:
    """What suppresses `f`: the comments on its line that cover its code ([] when per-file-ignores
    does), or None when nothing does. The one decision `check` and `fix` share; `sources` gives the
    text of files whose fixed version is not (yet) on disk."""
    loc = f.location
    if loc is None:
        return None
    if options.ignored_in(f.code, loc.path):
        return []
    hits = [s for s in read_suppressions(loc.path, sources.get(loc.path))
            if s.location.line == loc.line and s.covers(f.code)]
    return hits or None


def apply_suppressions(findings: Iterable[Finding], options: Options, scope: Scope,
                       model: str | None = None, *, ran: Iterable[type[Rule]],
                       sources: Mapping[str, bytes] = {}) -> list[Finding]:
    """`findings` minus those suppressed by a comment on their line or by per-file-ignores, plus an
    EXL002 finding for each suppression in `scope` that suppressed nothing (when EXL002 is enabled).
    `ran` are the rules of this pass (the graph rules of the graph's dialect, or the source rules):
    a code of the other pass is not reported unused, since this pass could not have used it.
    EXL002 findings carry `model`, or the file's path when None (source-only runs). `sources`: as in
    `suppressed_by`."""
    from exportlint.checks.suppression import UnusedSuppression
    from exportlint.engine.engine import finding_order

    kept: list[Finding] = []
    used: dict[Suppression, set[str]] = {}
    for f in findings:
        hits = suppressed_by(f, options, sources)
        if hits is None:
            kept.append(f)
        for s in hits or ():
            used.setdefault(s, set()).add(f.code)
    if options.enabled(UnusedSuppression.code):
        ran_codes = {r.code for r in ran}
        for path, lines in scope.items():
            for s in read_suppressions(path, sources.get(path)):
                if lines is not None and s.location.line not in lines:
                    continue
                message = _unused(s, used.get(s, set()), ran_codes)
                if message and not options.ignored_in(UnusedSuppression.code, path):
                    kept.append(UnusedSuppression.at(s.location, message, model or path))
    return sorted(kept, key=finding_order)


def _unused(s: Suppression, used: set[str], ran: set[str]) -> str | None:
    """Why `s` is (partly) unused, or None. Codes of rules that did not run (not selected, or of the
    other pass) are not reported."""
    if s.codes is None:
        return None if used else "unused suppression: no finding on this line"
    from exportlint.engine.registry import known_codes

    known = known_codes()
    unknown = [c for c in s.codes if not any(k.startswith(c) for k in known)]
    idle = [c for c in s.codes if c not in unknown and not any(u.startswith(c) for u in used)
            and any(k.startswith(c) for k in ran)]
    parts = []
    if unknown:
        parts.append(f"unknown code{'s' * (len(unknown) > 1)} {', '.join(unknown)}")
    if idle:
        parts.append(f"no {', '.join(idle)} finding on this line")
    return f"unused suppression: {'; '.join(parts)}" if parts else None
