"""Run the selected rules over a graph; a rule that raises becomes a finding, the others still run."""

from __future__ import annotations

from typing import Iterable, Sequence

from exportlint.engine.rule import Context, Finding, GraphRule, Rule
from exportlint.ir import OpGraph


def _crash_finding(graph: OpGraph, rule: type[Rule], exc: BaseException) -> Finding:
    from exportlint.checks.internal import RuleCrashed

    detail = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return RuleCrashed().finding(
        graph, f"rule {rule.code} ({rule.slug}) crashed and was skipped: {detail}"
    )


def run_rules(graph: OpGraph, rules: Sequence[type[Rule]], ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    for rule in rules:
        if not issubclass(rule, GraphRule) or graph.dialect not in rule.dialects:
            continue
        try:
            found: Iterable[Finding] = list(rule().check(graph, ctx))
        except Exception as exc:  # noqa: BLE001 - isolation is the point
            found = [_crash_finding(graph, rule, exc)]
        findings.extend(found)
    return sorted(findings, key=_order)


def _order(f: Finding):
    loc = f.location
    return (f.model, loc.path if loc else "", loc.line if loc else 0, loc.column if loc else 0,
            f.code, f.target or "")
