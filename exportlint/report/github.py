"""GitHub Actions workflow commands: one `::error|warning|notice file=…,line=…,col=…,title=…::message`
per finding, which the Actions runner turns into annotations on the pull request's diff."""

from __future__ import annotations

from pathlib import Path

from exportlint.engine.rule import Finding, Severity
from exportlint.report import Report, model_file, repo_path, source_root, subject

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """The message part: `%`, CR and LF are escaped (GitHub's `escapeData`)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value: as data, plus `:` and `,` (GitHub's `escapeProperty`)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(f: Finding, root: Path) -> str:
    """`file=` is relative to the repository root, as the runner expects from any working directory."""
    props = {}
    path = f.location.path if f.location is not None and not f.location.path.startswith("<") else model_file(f)
    if path is not None:
        props["file"] = repo_path(path, root) or path
    if f.location is not None and "file" in props:
        props |= {"line": str(f.location.line), "col": str(f.location.column)}
    props["title"] = f"{f.code} {f.rule}" + (f" [{f.target}]" if f.target else "")
    fields = ",".join(f"{k}={escape_property(v)}" for k, v in props.items())
    where = "" if f.location else f"{subject(f)}: "
    return f"::{_COMMANDS[f.severity]} {fields}::{escape_data(where + f.message)}"


def render(report: Report, color: bool = False) -> str:
    root = source_root()
    return "\n".join(annotation(f, root) for f in report.findings)
