"""Run the selected rules over a graph; a rule that raises becomes a finding, the others still run."""

from __future__ import annotations

from typing import Iterable, Sequence

from exportlint.engine.rule import Context, Finding, GraphRule, Rule
from exportlint.ir import OpGraph


def graph_rules(rules: Iterable[type[Rule]], dialect: str) -> list[type[GraphRule]]:
    """Those of `rules` that check graphs of `dialect`: the rules a model check runs."""
    return [r for r in rules if issubclass(r, GraphRule) and dialect in r.dialects]


def run_rules(graph: OpGraph, rules: Sequence[type[Rule]], ctx: Context) -> list[Finding]:
    from exportlint.checks.internal import RuleCrashed

    findings: list[Finding] = []
    for rule in graph_rules(rules, graph.dialect):
        try:
            found: Iterable[Finding] = list(rule().check(graph, ctx))
        except Exception as exc:  # noqa: BLE001 - isolation is the point
            found = [RuleCrashed.at(graph.model, rule, exc)]
        findings.extend(found)
    return sorted(findings, key=finding_order)


def finding_order(f: Finding):
    """Sort key of findings: model, file, line, column, code, target."""
    loc = f.location
    return (f.model, loc.path if loc else "", loc.line if loc else 0, loc.column if loc else 0,
            f.code, f.target or "")
