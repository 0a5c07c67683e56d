"""Docs: the rules reference is generated and fresh, every rule is documented, the JSON contract is."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from conftest import ROOT
from exportlint.docs import RULES_MD, main, rule_markdown, rules_reference
from exportlint.engine.registry import all_rules

DOCS = ROOT / "docs"


def test_rules_md_is_fresh():
    assert RULES_MD.read_text(encoding="utf-8") == rules_reference(), (
        "docs/rules.md is stale: regenerate it with `python -m exportlint.docs`")
    assert main(["--check"]) == 0


def test_check_mode_detects_a_stale_file(tmp_path):
    stale = tmp_path / "rules.md"
    stale.write_text("old\n")
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert main(["--check", "--output", str(stale)]) == 1
    assert "python -m exportlint.docs" in err.getvalue() and stale.read_text() == "old\n"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["--output", str(stale)]) == 0
    assert stale.read_text() == rules_reference()


def test_every_rule_code_is_in_the_docs():
    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    missing = [code for code in all_rules() if code not in text]
    assert not missing


@pytest.mark.parametrize("code", list(all_rules()))
def test_explain_prints_the_rules_md_section(code):
    from exportlint.cli import main as cli

    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert cli(["explain", code.lower()]) == 0
    assert out.getvalue().strip() == rule_markdown(all_rules()[code]).strip()
    assert rule_markdown(all_rules()[code]) in RULES_MD.read_text(encoding="utf-8")


def test_rule_sections_carry_the_tested_examples():
    for code, rule in all_rules().items():
        text = rule_markdown(rule)
        if rule.invalid:
            assert "Flagged" in text and "```python" in text, code
        assert "# expect:" not in text, code  # markers are shown as `# <- CODE`


def test_json_fields_are_documented():
    """Every key the JSON report writes is in docs/output.md's field table."""
    from exportlint.engine.rule import Applicability, Finding, Fix, Severity
    from exportlint.ir import CaptureInfo, Location
    from exportlint.report import Report
    from exportlint.report.json import render
    from exportlint.targets import parse_target

    report = Report()
    finding = Finding("EXL101", "unsupported-operator", Severity.ERROR, "m", "net", target="onnx:13", op="op",
                      module="mod", location=Location("a.py", 1, 1), fix=Fix(Applicability.SAFE, "d"))
    report.add("net", CaptureInfo("torch.export(non-strict)"), [parse_target("onnx:13")], [finding])
    documented = set(re.findall(r"^\| `([^`]+)`", (DOCS / "output.md").read_text(), flags=re.M))
    documented = {part for name in documented for part in re.split(r"[.\[\]]+", name) if part}

    def keys(value):
        if isinstance(value, dict):
            for k, v in value.items():
                yield k
                yield from keys(v)
        elif isinstance(value, list):
            for v in value:
                yield from keys(v)

    import json

    missing = set(keys(json.loads(render(report)))) - documented
    assert not missing, f"docs/output.md does not document {sorted(missing)}"


def test_guide_links_resolve():
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([\w.-]+\.md)(?:#[\w-]+)?\)", page.read_text(encoding="utf-8")):
            assert (DOCS / target).is_file(), f"{page.name} links to missing {target}"
