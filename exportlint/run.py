"""The pipeline for one run: capture each model, run the selected rules, collect a report."""

from __future__ import annotations

from exportlint.config import Options
from exportlint.engine.engine import run_rules
from exportlint.engine.registry import all_rules, select
from exportlint.engine.rule import Context
from exportlint.ir import OpGraph
from exportlint.report import Report


def check_graph(graph: OpGraph, options: Options, report: Report) -> None:
    rules = select(all_rules(), options.select, options.ignore)
    findings = run_rules(graph, rules, Context(options.targets, options))
    report.add(graph.model, graph.capture, options.targets, findings)


def check_specs(specs: list[str], options: Options, shapes: list[str], dtypes: list[str]) -> Report:
    from exportlint.capture.pytorch import capture_spec

    report = Report()
    for spec in specs:
        check_graph(capture_spec(spec, options, shapes, dtypes), options, report)
    return report
