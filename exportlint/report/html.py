"""HTML report: one self-contained page that draws each captured graph (laid out by the vendored dagre),
coloured per target, with the verdicts, the findings and an ops x targets matrix. Opens offline.

The page's data is one JSON document (`payload`); `assets/report.js` draws it. Statuses, one letter a
target: `b` blocked, `w` warning, `u` unverified (the tables cannot vouch for the op), `s` supported.
"""

from __future__ import annotations

import json
import linecache
from dataclasses import dataclass
from importlib.resources import files
from typing import Iterable

from exportlint import __version__
from exportlint.engine.rule import Finding, Severity
from exportlint.ir import OpGraph, OpNode, TensorMeta
from exportlint.report import ModelReport, Report, TargetSummary, display_path
from exportlint.tables import Status, Verdict
from exportlint.targets import Target, parse_target

STATUSES = ("s", "u", "w", "b")  # by rank: a group or an op takes its worst node's
CONTEXT_LINES = 4  # source lines shown each side of a node's line
ARG_CHARS = 120  # an argument's repr is cut there


def render(report: Report, color: bool = False) -> str:
    assets = files("exportlint.report")
    data = json.dumps(payload(report), separators=(",", ":")).replace("</", "<\\/")
    return (assets.joinpath("assets/report.html").read_text(encoding="utf-8")
            .replace("/*STYLE*/", assets.joinpath("assets/report.css").read_text(encoding="utf-8"))
            .replace("/*DAGRE*/", assets.joinpath("vendor/dagre/dagre.min.js").read_text(encoding="utf-8"))
            .replace("/*REPORT*/", assets.joinpath("assets/report.js").read_text(encoding="utf-8"))
            .replace("{/*DATA*/}", data))


def payload(report: Report) -> dict:
    """The page's data: per model its verdicts, graph (nodes with one status letter per target, edges as
    index pairs), findings and ops matrix; the source lines around every located node, once per file."""
    sources = _Sources()
    models = [_model(m, [f for f in report.findings if f.model == m.model], sources) for m in report.models]
    return {"version": __version__, "models": models, "files": sources.paths, "source": sources.lines}


def _model(m: ModelReport, findings: list[Finding], sources: "_Sources") -> dict:
    graph = m.graph
    names = {name: i for i, name in enumerate(graph.nx.nodes)} if graph is not None else {}
    out = {"name": m.model, "capture": m.capture.method if m.capture else None,
           "targets": [t.target for t in m.targets], "verdicts": [_verdict(t, sources) for t in m.targets],
           "nodes": [], "edges": [], "ops": [],
           "findings": [_finding(f, sources, names.get(f.node)) for f in findings]}
    if graph is None:
        return out
    about: dict[str, list[Finding]] = {}
    for f in findings:
        about.setdefault(f.node, []).append(f)
    views = [_View.of(graph, t, m) for t in m.targets]
    statuses = {n.name: "".join(v.status(n, about.get(n.name, [])) for v in views) for n in graph.nodes(None)}
    out["nodes"] = [_node(n, statuses[n.name], sources) for n in graph.nodes(None)]
    out["edges"] = sorted({(names[u], names[v]) for u, v in graph.nx.edges()})
    out["ops"] = [{"op": op, "count": len(nodes), "cells": [v.cell(nodes, statuses, i) for i, v in enumerate(views)]}
                  for op, nodes in sorted(graph.by_op.items())]
    return out


@dataclass
class _View:
    """One target as the drawn graph (torch.export's, or the model file's) sees it: the conversion
    paths of that graph (not the TorchScript paths, which judge torch.jit.trace's graph), the tables'
    verdict per op node on the first of them, and which converter runs decided them."""

    target: Target
    paths: set[str]
    verdicts: dict[str, Verdict]  # node name -> verdict; none for bookkeeping ops
    ran: list[str]  # `Decision.by` of the converter runs on these paths ("translation", "converter")
    proven: bool  # a converter run converted one of these paths

    @classmethod
    def of(cls, graph: OpGraph, summary: TargetSummary, m: ModelReport) -> "_View":
        from exportlint.checks.operator_support import op_verdicts, path_graph

        target = parse_target(summary.target)
        seen = [p for p in target.paths(graph.dialect) if path_graph(graph, p) is graph]
        names = {p.name for p in seen}
        verdicts = {n.name: v for nodes, v in op_verdicts(graph, target, (seen or target.paths(graph.dialect))[0])
                    for n in nodes}
        ran = sorted({d.by for d in m.confirmations if d.target == summary.target and d.path in names
                      and d.converted is not None})
        proven = any(p.exportable and p.decided_by != "tables" and p.path in names for p in summary.paths)
        return cls(target, names, verdicts, ran, proven)

    def status(self, node: OpNode, about: list[Finding]) -> str:
        """`b` with an error about the node on one of the paths, `w` with a warning (an error settled
        into one included); else `u` where the tables cannot vouch for its op and no converter run
        proved a path, `s` otherwise."""
        mine = [f for f in about if f.target in (None, str(self.target))
                and (not f.paths or self.paths & set(f.paths))]
        if any(f.severity is Severity.ERROR for f in mine):
            return "b"
        if any(f.severity is Severity.WARNING for f in mine):
            return "w"
        verdict = self.verdicts.get(node.name)
        unvouched = verdict is not None and verdict.status in (Status.UNVERIFIED, Status.UNKNOWN)
        return "u" if unvouched and not self.proven else "s"

    def cell(self, nodes: list[OpNode], statuses: dict[str, str], i: int) -> dict:
        """An op's cell of the matrix: its nodes' worst status, the tables' evidence and the first
        version that supports it (`opset 16`), and the converter runs that decided."""
        verdict = self.verdicts.get(nodes[0].name)
        return {"status": max((statuses[n.name][i] for n in nodes), key=STATUSES.index),
                "evidence": (verdict.evidence or "table") if verdict and verdict.status is not Status.UNKNOWN else "",
                "since": self.target.unit.version_text(verdict.since) if verdict and verdict.since else None,
                "decided": self.ran,
                "reason": verdict.reason if verdict else ""}


def _verdict(t: TargetSummary, sources: "_Sources") -> dict:
    return {"target": t.target, "exportable": t.exportable, "blocked": t.blocked, "errors": t.errors,
            "warnings": t.warnings,
            "paths": [{"path": p.path, "default": p.default, "exportable": p.exportable, "by": p.decided_by,
                       "reason": p.reason, "where": sources.where(p.location)} for p in t.paths]}


def _finding(f: Finding, sources: "_Sources", node: int | None) -> dict:
    return {"code": f.code, "rule": f.rule, "severity": f.severity.value, "target": f.target,
            "paths": list(f.paths), "message": f.message, "where": sources.where(f.location), "node": node,
            "fix": f.fix.applicability.value if f.fix else None}


def _node(n: OpNode, status: str, sources: "_Sources") -> dict:
    out = {"op": n.op, "kind": n.kind.value, "name": n.name, "st": status}
    for key, value in (("module", n.module), ("type", n.module_type),
                       ("args", {k: _short(repr(v)) for k, v in n.args.items()}),
                       ("in", [_tensor(t) for t in n.inputs]), ("out", [_tensor(t) for t in n.outputs]),
                       ("loc", sources.where(n.location)), ("call", sources.where(n.call_site))):
        if value:
            out[key] = value
    return out


def _tensor(t: TensorMeta) -> list:
    shape = "×".join(str(d) for d in t.shape) if t.shape is not None else "?"
    return [t.dtype or "?", shape]


def _short(text: str) -> str:
    return text if len(text) <= ARG_CHARS else text[: ARG_CHARS - 1] + "…"


class _Sources:
    """The files the report points into (by index) and the lines shown around each place."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.lines: dict[int, dict[int, str]] = {}
        self._index: dict[str, int] = {}

    def where(self, loc) -> list | None:
        """[file index, line] of a location, keeping the lines around it; None without one."""
        if loc is None:
            return None
        if loc.path not in self._index:
            self._index[loc.path] = len(self.paths)
            self.paths.append(display_path(loc.path))
        i = self._index[loc.path]
        shown = self.lines.setdefault(i, {})
        for line in _around(loc.line):
            text = linecache.getline(loc.path, line)
            if text:
                shown[line] = text.rstrip("\n")
        return [i, loc.line]


def _around(line: int) -> Iterable[int]:
    return range(max(1, line - CONTEXT_LINES), line + CONTEXT_LINES + 1)
