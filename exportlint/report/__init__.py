"""Reports: what was checked, per model and target, and the findings; rendered by `render`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from exportlint.engine.rule import Finding, Severity
from exportlint.ir import CaptureInfo, OpGraph
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
    default_path_required: bool = False  # `require_default_path`: blocked when the default path is

    @property
    def blocked(self) -> bool:
        return not (self.default_path_exportable if self.default_path_required else self.exportable)


@dataclass
class ModelReport:
    model: str
    capture: CaptureInfo | None  # None for source-only checks
    targets: list[TargetSummary] = field(default_factory=list)
    confirmations: list[Decision] = field(default_factory=list)  # paths run by a real converter
    graph: OpGraph | None = None  # the captured graph, which the HTML report draws


@dataclass
class Report:
    models: list[ModelReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def add(self, model: str, capture: CaptureInfo | None, targets: Sequence[Target],
            findings: list[Finding], dialect: str = "aten", decisions: Sequence[Decision] = (),
            require_default_path: bool = False, graph: OpGraph | None = None) -> None:
        summaries = []
        for target in targets:
            mine = [f for f in findings if f.target in (None, str(target))]
            errors = sum(f.severity is Severity.ERROR for f in mine)
            warnings = sum(f.severity is Severity.WARNING for f in mine)
            paths = path_verdicts(findings, target, dialect, decisions)
            summaries.append(TargetSummary(str(target), any(p.exportable for p in paths), errors, warnings,
                                           paths[0].exportable, paths, require_default_path))
        self.models.append(ModelReport(model, capture, summaries, list(decisions), graph))
        self.findings.extend(findings)

    @property
    def blocking(self) -> bool:
        """A target with no working path, or an error that `verdict.settle` kept (a demanded default
        path, or a finding about every path)."""
        return (any(f.severity is Severity.ERROR for f in self.findings)
                or any(t.blocked for m in self.models for t in m.targets))

    @property
    def failed(self) -> bool:
        """Exit 1: a blocked target, or any finding of the source-only pass (the pre-commit convention)."""
        sources = {m.model for m in self.models if m.capture is None}
        return self.blocking or any(f.model in sources for f in self.findings)


@dataclass(frozen=True)
class Group:
    """Findings that say the same thing at the same place (one model, rule, source line or none, and
    message up to its target): one line in the text, github and SARIF reports, which list the targets
    and the count. The JSON report keeps every finding."""

    findings: tuple[Finding, ...]

    @property
    def first(self) -> Finding:
        return self.findings[0]

    @property
    def count(self) -> int:
        return len(self.findings)

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.target for f in self.findings if f.target))

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.node for f in self.findings if f.node))

    @property
    def message(self) -> str:
        """The message, naming every target where the first names its own; `(N times)` when the
        same thing recurs beyond one per target."""
        f = self.first
        text = f.message.replace(f.target, ", ".join(self.targets)) if f.target else f.message
        return text + (f" ({self.count} times)" if self.count > max(1, len(self.targets)) else "")

    @property
    def target_label(self) -> str:
        """`[onnx:13, onnx:17]`, with the conversion path when the finding is about one: `[onnx:13 dynamo]`."""
        paths = f" {'/'.join(self.first.paths)}" if self.first.paths else ""
        return f"[{', '.join(self.targets)}{paths}]" if self.targets else ""

    @property
    def subject(self) -> str:
        """As `subject` of the first finding, with how many other nodes say the same."""
        more = len(self.nodes) - 1
        return subject(self.first) + (f" (+{more} more node{'s' * (more > 1)})" if more > 0 else "")


def grouped(findings: Sequence[Finding]) -> list[Group]:
    """`findings` as groups, in the order of each group's first finding."""
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        where = (f.location.path, f.location.line) if f.location else None
        pattern = f.message.replace(f.target, "\0") if f.target else f.message
        groups.setdefault((f.model, f.code, f.severity, where, pattern, f.paths), []).append(f)
    return [Group(tuple(g)) for g in groups.values()]


def display_path(path: str) -> str:
    """Relative to the working directory when the file is under it (what editors and CI expect)."""
    if path.startswith("<"):
        return path
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def source_root(start: Path | None = None) -> Path:
    """The repository root (the nearest directory with `.git` above `start`, default the working
    directory), else `start`: what CI annotations and SARIF URIs are relative to."""
    start = (start or Path.cwd()).resolve()
    return next((d for d in (start, *start.parents) if (d / ".git").exists()), start)


def repo_path(path: str, root: Path | None = None) -> str | None:
    """`path` relative to the repository root, POSIX style; None when outside it."""
    try:
        return Path(os.path.realpath(path)).relative_to(root or source_root()).as_posix()  # no symlink-loop error
    except ValueError:
        return None


def model_file(f: Finding) -> str | None:
    """The file a finding without a source line belongs to: its model's .onnx or .keras file, or a
    SavedModel's saved_model.pb; None for PyTorch models (`file.py:factory`) and source findings."""
    if f.location is not None:
        return None
    path = Path(f.model)
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return str(path / "saved_model.pb")
    return f.model if path.is_file() else None


def subject(f: Finding) -> str:
    """What a finding without a source line is about: the model, its layer (module) and its graph node."""
    layer = f"layer {f.module}: " if f.module and f.node else ""
    return f.model + (f" ({layer}{f.node})" if f.node else "")


def render(report: Report, fmt: str, color: bool = False) -> str:
    from importlib import import_module

    return import_module(f"exportlint.report.{fmt}").render(report, color=color)
