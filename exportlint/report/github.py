"""GitHub Actions workflow commands: one `::error|warning|notice file=…,line=…,col=…,title=…::message`
per group of repeated findings (`exportlint.report.Group`), which the Actions runner turns into
annotations on the pull request's diff."""

from __future__ import annotations

from pathlib import Path

from exportlint.engine.rule import Severity
from exportlint.report import Group, Report, grouped, model_file, repo_path, source_root

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """The message part: `%`, CR and LF are escaped (GitHub's `escapeData`)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value: as data, plus `:` and `,` (GitHub's `escapeProperty`)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(g: Group, root: Path) -> str:
    """`file=` is relative to the repository root, as the runner expects from any working directory."""
    f = g.first
    props = {}
    path = f.location.path if f.location is not None and not f.location.path.startswith("<") else model_file(f)
    if path is not None:
        props["file"] = repo_path(path, root) or path
    if f.location is not None and "file" in props:
        props |= {"line": str(f.location.line), "col": str(f.location.column)}
    props["title"] = f"{f.code} {f.rule}" + (f" {g.target_label}" if g.targets else "")
    fields = ",".join(f"{k}={escape_property(v)}" for k, v in props.items())
    where = "" if f.location else f"{g.subject}: "
    return f"::{_COMMANDS[f.severity]} {fields}::{escape_data(where + g.message)}"


def render(report: Report, color: bool = False) -> str:
    root = source_root()
    return "\n".join(annotation(g, root) for g in grouped(report.findings))
