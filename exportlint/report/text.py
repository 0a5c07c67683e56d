"""Text report: `path:line:col: CODE [target] message` lines, grouped by model, then a summary."""

from __future__ import annotations

from collections import Counter

from exportlint.engine.rule import Applicability, Finding, Severity
from exportlint.report import Group, Report, display_path, grouped

_COLORS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def _fixable_by_default(f: Finding) -> bool:
    """`[*]`: `exportlint fix` applies the finding's fix without --unsafe-fixes (ruff's convention)."""
    return f.fix is not None and f.fix.applicability is Applicability.SAFE


def finding_line(f: Finding, color: bool = False) -> str:
    return group_line(Group((f,)), color)


def group_line(g: Group, color: bool = False) -> str:
    f = g.first
    where = (f"{display_path(f.location.path)}:{f.location.line}:{f.location.column}"
             if f.location else g.subject)
    target = f" {g.target_label}" if g.targets else ""
    fixable = " [*]" if _fixable_by_default(f) else ""
    context = [f"in {f.module}"] if f.module and f.location else []  # repeated blocks stay apart
    if f.called_from:
        context.append(f"called from {display_path(f.called_from.path)}:{f.called_from.line}")
    tail = f" ({', '.join(context)})" if context else ""
    return f"{where}: {_paint(f.code, _COLORS[f.severity], color)}{fixable}{target} {g.message}{tail}"


def render(report: Report, color: bool = False) -> str:
    out: list[str] = []
    for model in report.models:
        findings = [f for f in report.findings if f.model == model.model]
        if model.capture is not None:
            cap = model.capture
            out.append(_paint(f"== {model.model}", "1", color) + f" (captured with {cap.method})")
            for method, why in cap.attempts:
                out.append(f"   {method} failed: {why}")
        out.extend(group_line(g, color) for g in grouped(findings))
        if model.capture is not None:
            per_op = Counter((f.code, f.op) for f in findings if f.op)
            if per_op:
                out.append("   by operator: " + ", ".join(f"{op} {code} x{n}" for (code, op), n in per_op.most_common()))
        out.extend(f"   {c.by} {c.line()}" for c in model.confirmations)
    out.extend(summary(report, color))
    return "\n".join(out)


def summary(report: Report, color: bool = False) -> list[str]:
    """A table of verdicts per model and target, then the totals."""
    out: list[str] = []
    rows = [(t, m.model) for m in report.models for t in m.targets]
    if rows:
        width = max(len("target"), *(len(t.target) for t, _ in rows))
        out += ["", f"{'target':<{width}}  {'verdict':<10}  {'errors':>6}  {'warnings':>8}  model"]
        for t, model in rows:
            painted = _paint(f"{'exportable' if t.exportable else 'blocked':<10}", "32" if t.exportable else "31", color)
            out.append(f"{t.target:<{width}}  {painted}  {t.errors:>6}  {t.warnings:>8}  {model}{_via(t)}")
    if not report.findings:
        out.append("no findings")
        return out
    counts = Counter(f.severity for f in report.findings)
    totals = ", ".join(f"{counts[s]} {s.value}{'s' * (counts[s] != 1)}" for s in Severity if counts[s])
    out.append(f"{len(report.findings)} finding{'s' * (len(report.findings) != 1)} ({totals})"
               + _fixes(report.findings))
    return out


def _via(t) -> str:
    """`  (via trace only; export: REASON)` when the default path is blocked and another converts."""
    if not t.exportable or t.default_path_exportable:
        return ""
    default = t.paths[0]
    working = " and ".join(p.path for p in t.paths if p.exportable)
    where = f" at {display_path(default.location.path)}:{default.location.line}" if default.location else ""
    return f"  (via {working} only; {default.path}: {_short(default.reason)}{where})"


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fixes(findings: list[Finding]) -> str:
    """`; 2 fixable with `exportlint fix` (marked [*]), 1 more with --unsafe-fixes`, or ""."""
    safe = sum(map(_fixable_by_default, findings))
    unsafe = sum(f.fix is not None and f.fix.applicability is Applicability.UNSAFE for f in findings)
    parts = [f"{safe} fixable with `exportlint fix` (marked [*])"] if safe else []
    if unsafe:
        parts.append(f"{unsafe} more with --unsafe-fixes" if safe else
                     f"{unsafe} fixable with `exportlint fix --unsafe-fixes`")
    return "; " + ", ".join(parts) if parts else ""
