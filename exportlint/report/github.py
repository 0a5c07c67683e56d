"""GitHub Actions workflow commands: one `::error|warning|notice file=…,line=…,col=…,title=…::message`
per finding, which the Actions runner turns into annotations on the pull request's diff."""

from __future__ import annotations

from exportlint.engine.rule import Finding, Severity
from exportlint.report import Report, display_path

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """The message part: `%`, CR and LF are escaped (GitHub's `escapeData`)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value: as data, plus `:` and `,` (GitHub's `escapeProperty`)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(f: Finding) -> str:
    props = {}
    if f.location is not None and not f.location.path.startswith("<"):
        props = {"file": display_path(f.location.path), "line": str(f.location.line),
                 "col": str(f.location.column)}
    props["title"] = f"{f.code} {f.rule}" + (f" [{f.target}]" if f.target else "")
    fields = ",".join(f"{k}={escape_property(v)}" for k, v in props.items())
    where = "" if f.location else f"{f.model}: "
    return f"::{_COMMANDS[f.severity]} {fields}::{escape_data(where + f.message)}"


def render(report: Report, color: bool = False) -> str:
    return "\n".join(annotation(f) for f in report.findings)
