"""The generic rule test: every rule's failing examples fire at the marked lines (torch examples) or
nodes (ONNX examples), passing ones don't."""

from __future__ import annotations

from pathlib import Path

import pytest

from exportlint.engine.registry import all_rules
from exportlint.engine.rule import DOC_SECTIONS, GraphRule

RULES = [r for c, r in all_rules().items() if c != "EXL000"]  # EXL000 is made by the engine only
GRAPH_RULES = [r for r in RULES if issubclass(r, GraphRule)]
EXPECT_NODE = "expect_"  # ONNX examples name the nodes that must carry a finding `expect_...`


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


def _capture_example(rule, example, options, tmp_path):
    """The example's graph: a `(module, inputs)` pair through the torch front end, an `onnx.ModelProto`
    saved to a file and read back by the ONNX front end."""
    built = example.build()
    if isinstance(built, tuple):
        from exportlint.capture.pytorch import capture_torch

        model, inputs = built
        return capture_torch(model, inputs, options, f"{rule.code}:{example.build.__name__}")
    import onnx

    from exportlint.capture.onnx_file import capture_onnx

    path = tmp_path / f"{example.build.__name__}.onnx"
    onnx.save(built, path)
    return capture_onnx(path, options)


def _run_graph_example(rule, example, tmp_path):
    from exportlint.options import Options
    from exportlint.engine.engine import run_rules
    from exportlint.engine.rule import Context
    from exportlint.targets import parse_target

    options = Options(targets=[parse_target(t) for t in example.targets], **example.options)
    graph = _capture_example(rule, example, options, tmp_path)
    return graph, [f for f in run_rules(graph, [rule], Context(options.targets, options)) if f.code == rule.code]


GRAPH_EXAMPLES = [(r, e, kind) for r in GRAPH_RULES for kind in ("invalid", "valid") for e in getattr(r, kind)]


@pytest.mark.parametrize("rule, example, kind", GRAPH_EXAMPLES,
                         ids=[f"{r.code}-{k}-{e.build.__name__}-{'+'.join(e.targets)}" for r, e, k in GRAPH_EXAMPLES])
def test_graph_rule_examples(rule, example, kind, tmp_path):
    graph, findings = _run_graph_example(rule, example, tmp_path)
    if kind == "valid":
        assert not findings, [f.message for f in findings]
        return
    assert findings, f"{rule.code} did not fire on {example.build.__name__}"
    if graph.dialect == "onnx":  # ONNX nodes have no source line: the finding names the node instead
        nodes = {n.name for n in graph.source.graph.node if n.name.startswith(EXPECT_NODE)}
        assert nodes, f"{example.build.__name__} names no node '{EXPECT_NODE}...'"
        for f in findings:
            assert f.node in nodes, f"{rule.code} at node {f.node!r}, expected one of {sorted(nodes)}: {f.message}"
        return
    path, lines = example.expected_lines(rule.code)
    assert lines, f"{example.build.__name__} marks no line with '# expect: {rule.code}'"
    for f in findings:
        assert f.location is not None, f.message
        assert Path(f.location.path).resolve() == Path(path).resolve() and f.location.line in lines, (
            f"{rule.code} at {f.location}, expected one of lines {sorted(lines)}: {f.message}")
    silent = lines - {f.location.line for f in findings}
    assert not silent, f"{rule.code} did not fire at marked line(s) {sorted(silent)} of {example.build.__name__}"
