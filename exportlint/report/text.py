"""Text report: `path:line:col: CODE [target] message` lines, grouped by model, then a summary."""

from __future__ import annotations

from collections import Counter

from exportlint.engine.rule import Finding, Severity
from exportlint.report import Report, display_path

_COLORS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def finding_line(f: Finding, color: bool = False) -> str:
    where = (f"{display_path(f.location.path)}:{f.location.line}:{f.location.column}"
             if f.location else f"{f.model}" + (f" ({f.node})" if f.node else ""))
    target = f" [{f.target}]" if f.target else ""
    fixable = " [*]" if f.fixable else ""
    return f"{where}: {_paint(f.code, _COLORS[f.severity], color)}{fixable}{target} {f.message}"


def render(report: Report, color: bool = False) -> str:
    out: list[str] = []
    for model in report.models:
        findings = [f for f in report.findings if f.model == model.model]
        if model.capture is not None:
            cap = model.capture
            out.append(_paint(f"== {model.model}", "1", color) + f" (captured with {cap.method})")
            for method, why in cap.attempts:
                out.append(f"   {method} failed: {why}")
        out.extend(finding_line(f, color) for f in findings)
        if model.capture is not None:
            per_op = Counter((f.code, f.op) for f in findings if f.op)
            if per_op:
                out.append("   by operator: " + ", ".join(f"{op} {code} x{n}" for (code, op), n in per_op.most_common()))
    if report.models and any(m.targets for m in report.models):
        out.append("")
        width = max(len(t.target) for m in report.models for t in m.targets)
        for model in report.models:
            for t in model.targets:
                verdict = _paint("exportable", "32", color) if t.exportable else _paint("blocked", "31", color)
                out.append(f"{t.target:<{width}}  {verdict:<10}  {t.errors} error(s), {t.warnings} warning(s)"
                           f"  {model.model}")
    if not report.findings:
        out.append("no findings")
    return "\n".join(out)
