"""Verdicts per target and conversion path, from the findings of one model and the paths decided by
running a real translation or converter (`exportlint.decide`).

A decided path has the converter's answer. Otherwise a path is blocked by a blocking finding of its
target (or of every target) that is about that path (or about every path). A target is exportable
when one of its paths is. An error that only stops paths of targets which convert another way is
shown as a warning, unless the team demands the default path (`require_default_path`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from exportlint.decide import Decision
from exportlint.engine.rule import Finding, Severity
from exportlint.ir import Location
from exportlint.targets import Target


@dataclass(frozen=True)
class PathVerdict:
    path: str
    default: bool
    exportable: bool
    decided_by: str  # "tables", or `Decision.by`: "translation", "converter"
    reason: str = ""  # what blocks it: the first blocker's message, or the converter's error
    location: Location | None = None  # where the first blocker is


def _applies(f: Finding, target: Target, path: str) -> bool:
    return f.blocking and f.target in (None, str(target)) and (not f.paths or path in f.paths)


def path_verdicts(findings: Sequence[Finding], target: Target, dialect: str,
                  decisions: Sequence[Decision] = ()) -> list[PathVerdict]:
    """Default path first."""
    decided = {d.path: d for d in decisions if d.target == str(target) and d.converted is not None}
    out = []
    for i, path in enumerate(target.paths(dialect)):
        blocker = next((f for f in findings if _applies(f, target, path.name)), None)
        decision = decided.get(path.name)
        exportable = decision.converted if decision else blocker is None
        if exportable:
            blocker = None
        reason = blocker.message if blocker else "" if exportable else decision.detail
        out.append(PathVerdict(path.name, i == 0, exportable, decision.by if decision else "tables", reason,
                               blocker.location if blocker else None))
    return out


def settle(findings: list[Finding], targets: Sequence[Target], dialect: str,
           decisions: Sequence[Decision] = (), require_default_path: bool = False) -> list[Finding]:
    """Errors that stop nothing the verdict needs become warnings (still marked `blocks`)."""
    verdicts = {t: path_verdicts(findings, t, dialect, decisions) for t in targets}

    def needed(f: Finding) -> bool:
        for t, paths in verdicts.items():
            if f.target not in (None, str(t)):
                continue
            mine = [p for p in paths if not f.paths or p.path in f.paths]
            if not any(p.exportable for p in paths) and any(not p.exportable for p in mine):
                return True
            if require_default_path and paths[0] in mine and not paths[0].exportable:
                return True
        return False

    def lighter(f: Finding) -> Finding:
        ways = sorted({p.path for t, paths in verdicts.items() if f.target in (None, str(t))
                       for p in paths if p.exportable})
        return replace(f, severity=Severity.WARNING, blocks=True,
                       message=f"{f.message} [{' and '.join(ways)}: {'converts' if len(ways) == 1 else 'convert'}]")

    settled = [lighter(f) if f.severity is Severity.ERROR and f.paths and not needed(f) else f
               for f in findings]
    return _one_per_path(settled)


def _one_per_path(findings: list[Finding]) -> list[Finding]:
    """One finding per rule, target and path for the blockers of a path that another path gets
    around: the first located one, naming the others."""
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        if f.blocks and f.severity is not Severity.ERROR:
            groups.setdefault((f.code, f.target, f.paths), []).append(f)
    firsts = {}
    for key, group in groups.items():
        group.sort(key=lambda f: (f.location is None, f.location))
        labels = list(dict.fromkeys(f"{f.op or f.node}" + (f" (line {f.location.line})" if f.location else "")
                                    for f in group))
        first, others = group[0], labels[1:]
        firsts[id(first)] = replace(first, message=first.message + (
            f"; on this path also: {', '.join(others)}" if others else ""))
    grouped = {id(f) for group in groups.values() for f in group}
    return [firsts.get(id(f), f) for f in findings if id(f) in firsts or id(f) not in grouped]
