"""Rule documentation generated from the registry: `exportlint explain` and docs/rules.md."""

from __future__ import annotations

from exportlint.engine.rule import DOC_SECTIONS, Rule


def rule_markdown(rule: type[Rule]) -> str:
    doc = rule.doc()
    parts = [f"## {rule.code} `{rule.slug}`", "", rule.summary, "",
             f"Default severity: {rule.severity.value}."
             + (f" Fix: {rule.fix.value}." if rule.fix else ""), ""]
    for section in DOC_SECTIONS + tuple(s for s in doc if s not in DOC_SECTIONS):
        if section in doc:
            parts += [f"### {section}", "", doc[section], ""]
    return "\n".join(parts).rstrip() + "\n"
