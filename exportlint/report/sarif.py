"""SARIF 2.1.0 report, for GitHub code scanning and IDE SARIF viewers.

URIs are relative to the repository root (the nearest directory with `.git` above the working
directory, else the working directory) under the `%SRCROOT%` base id, percent-encoded. A finding on
a model file (ONNX, Keras, SavedModel) is located at that file, with its graph node as a logical
location. Repeated findings are one result (`exportlint.report.Group`), with their targets, count
and nodes in `properties`. `partialFingerprints` hash the
code, target, file and the stripped text of the finding's line (not its number), so a finding keeps
its identity when lines move; findings without a location hash the model, op and module instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from functools import cache
from pathlib import Path
from urllib.parse import quote

from exportlint import __version__
from exportlint.engine.rule import Rule, Severity
from exportlint.errors import LoadError, check_regular_file
from exportlint.report import Group, Report, grouped, model_file, repo_path, source_root

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
BASE_ID = "%SRCROOT%"
FINGERPRINT = "exportlint/v1"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def rule_descriptor(rule: type[Rule]) -> dict:
    from exportlint.docs import rule_markdown

    doc = rule.doc()
    plain = "\n\n".join([rule.summary, *(doc[s] for s in ("What it does", "Use instead") if s in doc),
                         f"exportlint explain {rule.code}"])
    return {
        "id": rule.code,
        "name": rule.slug,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": doc.get("What it does", rule.summary)},
        "help": {"text": plain, "markdown": rule_markdown(rule)},
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "properties": {"tags": ["exportlint", rule.code[:4] + "xx"]},
    }


@cache
def _line_text(path: str, line: int) -> str:
    try:
        check_regular_file(Path(path))  # never open a FIFO
        with open(path, encoding="utf-8", errors="replace") as fh:
            for i, text in enumerate(fh, 1):
                if i == line:
                    return text.strip()
    except (OSError, LoadError):
        pass
    return f"#{line}"  # unreadable: fall back to the number


def fingerprint(g: Group, uri: str | None) -> str:
    f, targets = g.first, ",".join(g.targets)
    if f.location is not None and uri is not None:
        key = [f.code, targets, uri, _line_text(f.location.path, f.location.line)]
    else:
        key = [f.code, targets, f.model, f.op or "", f.module or "", f.message if not f.op else ""]
    return hashlib.sha256("\0".join(key).encode()).hexdigest()[:32]


def _artifact(path: str, root: Path) -> dict:
    rel = repo_path(path, root)
    if rel is None:
        return {"uri": Path(os.path.realpath(path)).as_uri()}  # not resolve(): it raises on a symlink loop
    return {"uri": quote(rel), "uriBaseId": BASE_ID}


def _result(g: Group, index: int, root: Path, seen: Counter) -> dict:
    f = g.first
    result: dict = {
        "ruleId": f.code,
        "ruleIndex": index,
        "level": _LEVELS[f.severity],
        "message": {"text": (f"{g.target_label} " if g.targets else "") + ("" if f.location else f"{g.subject}: ")
                    + g.message},
        "properties": {"target": f.target, "targets": list(g.targets), "count": g.count, "model": f.model,
                       "op": f.op, "module": f.module, "node": f.node, "nodes": list(g.nodes),
                       "fixable": f.fixable},
    }
    uri = None
    if f.location is not None and not f.location.path.startswith("<"):
        artifact = _artifact(f.location.path, root)
        uri = artifact["uri"]
        result["locations"] = [{"physicalLocation": {
            "artifactLocation": artifact,
            "region": {"startLine": f.location.line, "startColumn": f.location.column},
        }}]
    elif (path := model_file(f)) is not None:
        result["locations"] = [{"physicalLocation": {"artifactLocation": _artifact(path, root)}}]
    logical = [{"fullyQualifiedName": f.module, "kind": "module"}] if f.module else []
    if f.node and f.location is None:
        logical.append({"name": f.node, "fullyQualifiedName": f"{f.module}/{f.node}" if f.module else f.node,
                        "kind": "object"})
    if logical:
        result.setdefault("locations", [{}])[0]["logicalLocations"] = logical
    key = fingerprint(g, uri)
    seen[key] += 1  # identical lines (three `nn.Hardswish()`) stay distinct, in file order
    result["partialFingerprints"] = {FINGERPRINT: key if seen[key] == 1 else f"{key}:{seen[key]}"}
    return result


def render(report: Report, color: bool = False) -> str:
    from exportlint.engine.registry import all_rules

    registry = all_rules()
    root = source_root()
    codes = sorted({f.code for f in report.findings} | set(registry))
    seen: Counter = Counter()
    index = {code: i for i, code in enumerate(codes)}
    rules = [rule_descriptor(registry[c]) if c in registry else {"id": c, "shortDescription": {"text": c}}
             for c in codes]
    run = {
        "tool": {"driver": {
            "name": "exportlint", "version": __version__, "semanticVersion": __version__,
            "rules": rules,
        }},
        "originalUriBaseIds": {BASE_ID: {"uri": root.as_uri() + "/"}},
        "columnKind": "unicodeCodePoints",
        "results": [_result(g, index[g.first.code], root, seen) for g in grouped(report.findings)],
        "properties": {"models": [
            {"model": m.model, "targets": [{"target": t.target, "exportable": t.exportable} for t in m.targets]}
            for m in report.models]},
    }
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2)
