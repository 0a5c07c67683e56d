"""Reports: what was checked, per model and target, and the findings; rendered by `render`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

from exportlint.engine.rule import Finding, Severity
from exportlint.ir import CaptureInfo
from exportlint.targets import Target
from exportlint.decide import Decision
from exportlint.verdict import PathVerdict, path_verdicts

JSON_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TargetSummary:
    target: str
    exportable: bool  # some conversion path works
    errors: int
    warnings: int
    default_path_exportable: bool = True
    paths: list[PathVerdict] = field(default_factory=list)  # default path first


@dataclass
class ModelReport:
    model: str
    capture: CaptureInfo | None  # None for source-only checks
    targets: list[TargetSummary] = field(default_factory=list)
    confirmations: list[Decision] = field(default_factory=list)  # paths run by a real converter


@dataclass
class Report:
    models: list[ModelReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def add(self, model: str, capture: CaptureInfo | None, targets: Sequence[Target],
            findings: list[Finding], dialect: str = "aten", decisions: Sequence[Decision] = ()) -> None:
        summaries = []
        for target in targets:
            mine = [f for f in findings if f.target in (None, str(target))]
            errors = sum(f.severity is Severity.ERROR for f in mine)
            warnings = sum(f.severity is Severity.WARNING for f in mine)
            paths = path_verdicts(findings, target, dialect, decisions)
            summaries.append(TargetSummary(str(target), any(p.exportable for p in paths), errors, warnings,
                                           paths[0].exportable, paths))
        self.models.append(ModelReport(model, capture, summaries, list(decisions)))
        self.findings.extend(findings)

    @property
    def blocking(self) -> bool:
        """A target with no working path, or an error that `verdict.settle` kept (a demanded default
        path, or a finding about every path)."""
        return (any(f.severity is Severity.ERROR for f in self.findings)
                or any(not t.exportable for m in self.models for t in m.targets))

    @property
    def failed(self) -> bool:
        """Exit 1: a blocked target, or any finding of the source-only pass (the pre-commit convention)."""
        sources = {m.model for m in self.models if m.capture is None}
        return self.blocking or any(f.model in sources for f in self.findings)


def display_path(path: str) -> str:
    """Relative to the working directory when the file is under it (what editors and CI expect)."""
    if path.startswith("<"):
        return path
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def render(report: Report, fmt: str, color: bool = False) -> str:
    from importlib import import_module

    return import_module(f"exportlint.report.{fmt}").render(report, color=color)
