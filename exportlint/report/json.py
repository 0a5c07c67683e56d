"""JSON report; schema documented in docs/output.md (`schema_version` bumps on breaking changes)."""

from __future__ import annotations

import json
from dataclasses import asdict

from exportlint.engine.rule import Finding
from exportlint.report import JSON_SCHEMA_VERSION, Report, display_path


def finding_dict(f: Finding) -> dict:
    return {
        "code": f.code, "rule": f.rule, "severity": f.severity.value, "target": f.target,
        "model": f.model, "message": f.message, "op": f.op, "module": f.module, "node": f.node,
        "location": _location(f.location),
        "fix": {"applicability": f.fix.applicability.value, "description": f.fix.description} if f.fix else None,
        "paths": list(f.paths), "blocks": f.blocking,
        "called_from": ({"path": display_path(f.called_from.path), "line": f.called_from.line}
                        if f.called_from else None),
        **({"data": dict(f.data)} if f.data else {}),
    }


def _location(loc) -> dict | None:
    return {"path": display_path(loc.path), "line": loc.line, "column": loc.column} if loc else None


def render(report: Report, color: bool = False) -> str:
    models = []
    for m in report.models:
        cap = m.capture
        models.append({
            "model": m.model,
            "capture": ({"method": cap.method, "ok": cap.ok,
                         "attempts": [{"method": a, "error": e} for a, e in cap.attempts],
                         "specialized": cap.specialized} if cap else None),
            "targets": [{**asdict(t), "paths": [{**asdict(p), "location": _location(p.location)} for p in t.paths]}
                        for t in m.targets],
            "confirmations": [asdict(c) for c in m.confirmations],
        })
    doc = {"schema_version": JSON_SCHEMA_VERSION, "models": models,
           "findings": [finding_dict(f) for f in report.findings]}
    return json.dumps(doc, indent=2)
