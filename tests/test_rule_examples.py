"""The generic rule test: every rule's failing examples fire at the marked lines, passing ones don't."""

from __future__ import annotations

from pathlib import Path

import pytest

from exportlint.engine.registry import all_rules
from exportlint.engine.rule import DOC_SECTIONS, GraphRule

RULES = [r for c, r in all_rules().items() if c != "EXL000"]  # EXL000 is made by the engine only
GRAPH_RULES = [r for r in RULES if issubclass(r, GraphRule)]


def test_codes_slugs_and_docs():
    slugs = [r.slug for r in all_rules().values()]
    assert len(slugs) == len(set(slugs))
    for code, rule in all_rules().items():
        assert code.startswith("EXL") and len(code) == 6 and code[3:].isdigit()
        missing = [s for s in DOC_SECTIONS if s not in rule.doc()]
        assert not missing, f"{code} doc lacks {missing}"
        assert rule.summary and rule.slug == rule.slug.lower()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_every_rule_has_both_kinds_of_example(rule):
    assert rule.invalid and rule.valid


def _run_graph_example(rule, example):
    from exportlint.capture.pytorch import capture_torch
    from exportlint.config import Options
    from exportlint.engine.engine import run_rules
    from exportlint.engine.rule import Context
    from exportlint.targets import parse_target

    options = Options(targets=[parse_target(t) for t in example.targets], **example.options)
    model, inputs = example.build()
    graph = capture_torch(model, inputs, options, f"{rule.code}:{example.build.__name__}")
    return [f for f in run_rules(graph, [rule], Context(options.targets, options)) if f.code == rule.code]


GRAPH_EXAMPLES = [(r, e, kind) for r in GRAPH_RULES for kind in ("invalid", "valid") for e in getattr(r, kind)]


@pytest.mark.parametrize("rule, example, kind", GRAPH_EXAMPLES,
                         ids=[f"{r.code}-{k}-{e.build.__name__}-{'+'.join(e.targets)}" for r, e, k in GRAPH_EXAMPLES])
def test_graph_rule_examples(rule, example, kind):
    findings = _run_graph_example(rule, example)
    if kind == "valid":
        assert not findings, [f.message for f in findings]
        return
    assert findings, f"{rule.code} did not fire on {example.build.__name__}"
    path, lines = example.expected_lines(rule.code)
    assert lines, f"{example.build.__name__} marks no line with '# expect: {rule.code}'"
    for f in findings:
        assert f.location is not None, f.message
        assert Path(f.location.path).resolve() == Path(path).resolve() and f.location.line in lines, (
            f"{rule.code} at {f.location}, expected one of lines {sorted(lines)}: {f.message}")
