"""The command line: cheap start, one-line errors with exit 2, exit 1 on blocked targets, JSON schema."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from conftest import EXAMPLES, ROOT, run_cli


def test_help_and_version_do_not_import_heavy_frameworks():
    code = ("import sys, contextlib, io\n"
            "from exportlint.cli import main\n"
            "for argv in (['--help'], ['--version']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try: main(argv)\n"
            "        except SystemExit: pass\n"
            "heavy = [m for m in ('torch', 'tensorflow', 'coremltools', 'onnxruntime', 'networkx') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("args, message", [
    (["check", "examples/nope.py:build"], "no such file"),
    (["check", "examples/shape_head.py:"], "must be 'path/to/file.py:factory'"),
    (["check", "examples/shape_head.py:build", "--input-shape", "1,x"], "comma-separated integers"),
    (["check", "examples/shape_head.py:build", "--target", "onnx:99"], "unknown target 'onnx:99'"),
    (["check", "examples/shape_head.py:build", "--target", "foo"], "unknown target 'foo'"),
    (["check", "examples/shape_head.py:build", "--dynamic", "0:9"], "input 0 has 4 dims"),
    (["check", "examples/shape_head.py:build", "--dynamic", "3:0"], "input 3 does not exist"),
    (["check", "examples/shape_head.py:build", "--select", "EXL9"], "'EXL9' matches no rule"),
    (["check", "examples/shape_head.py:build", "--mean", "0.5,0.5", "--std", "0.2"], "differ in length"),
    (["explain", "EXL999"], "unknown rule code"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_models_that_do_not_load_are_findings_and_the_others_report():
    """One bad model among several specs was exit 2 with no report: now each is an EXL003 finding."""
    result = run_cli("check", "examples/shape_head.py:missing", "no_such_module:build", "tests/bad_models.py:raises",
                     "tests/bad_models.py:not_a_module", "examples/mobilenet_block.py:build", "--format", "json")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    messages = [f["message"] for f in doc["findings"] if f["code"] == "EXL003"]
    assert messages == ["examples/shape_head.py has no attribute 'missing'",
                        "no_such_module: import failed: ModuleNotFoundError: No module named 'no_such_module'",
                        "tests/bad_models.py:raises: factory raised ValueError: broken on purpose",
                        "tests/bad_models.py:not_a_module: the factory returned int, not a torch.nn.Module"]
    raised = next(f for f in doc["findings"] if "broken on purpose" in f["message"])
    assert raised["location"] == {"path": "tests/bad_models.py", "line": 7, "column": 5}
    assert doc["models"][-1]["capture"]["ok"]  # the good model after them was checked


def test_json_schema_and_locations_point_at_example_lines():
    result = run_cli("check", "examples/shape_head.py:build_warp", "--target", "onnx:13", "--target", "onnx:18",
                     "--format", "json")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    (model,) = doc["models"]
    assert model["model"] == "examples/shape_head.py:build_warp"
    assert model["capture"]["method"] == "torch.export(non-strict)" and model["capture"]["ok"]
    assert {t["target"]: t["exportable"] for t in model["targets"]} == {"onnx:13": False, "onnx:18": True}
    lines = (EXAMPLES / "shape_head.py").read_text().splitlines()
    for f in doc["findings"]:
        assert set(f) >= {"code", "rule", "severity", "target", "model", "message", "op", "module", "location"}
        loc = f["location"]
        assert loc["path"] == "examples/shape_head.py"
        written = lines[loc["line"] - 1]
        if f["paths"] == ["dynamo"] and f["target"] == "onnx:13":
            continue  # the default exporter reaches no opset below 14 (torch 2.13, onnx 1.23): every op
        assert f["op"] is None or any(k in written for k in ("grid_sample", "avg_pool2d", "view", "size")), written
    grid = [f for f in doc["findings"] if f["code"] == "EXL101" and f["paths"] == ["torchscript"]]
    assert grid and all(f["target"] == "onnx:13" and "opset 16" in f["message"] for f in grid)
    assert "F.grid_sample" in lines[grid[0]["location"]["line"] - 1]


def test_text_format_is_ide_parsable():
    result = run_cli("check", "examples/shape_head.py:build_warp", "--target", "onnx:13")
    first = next(l for l in result.stdout.splitlines() if "EXL101" in l)
    path, line, col, rest = first.split(":", 3)
    assert path == "examples/shape_head.py" and int(line) > 0 and int(col) > 0
    assert re.match(r" EXL101 \[onnx:13 (dynamo|torchscript)\] ", rest), rest


def test_exit_zero():
    assert run_cli("check", "examples/shape_head.py:build_warp", "--target", "onnx:13", "--exit-zero").returncode == 0


def test_capture_failure_is_a_finding_with_fallback_graph():
    result = run_cli("check", "tests/bad_models.py:branchy", "--format", "json")
    assert result.returncode == 0 and "Traceback" not in result.stderr  # the TorchScript exporter converts
    doc = json.loads(result.stdout)
    (model,) = doc["models"]
    (target,) = model["targets"]
    assert target["exportable"] and not target["default_path_exportable"]
    assert {p["path"]: (p["exportable"], p["decided_by"]) for p in target["paths"]} == {
        "dynamo": (False, "translation"), "torchscript": (True, "translation")}
    assert model["capture"]["method"] == "torch.jit.trace"
    assert [a["method"] for a in model["capture"]["attempts"]][:2] == ["torch.export(non-strict)", "torch.export(strict)"]
    (finding,) = [f for f in doc["findings"] if f["code"] == "EXL001"]
    assert finding["severity"] == "warning" and finding["paths"] == ["dynamo"] and finding["blocks"]
    line = (ROOT / "tests/bad_models.py").read_text().splitlines()[finding["location"]["line"] - 1]
    assert "if x.sum() > 0" in line


def test_confirm_runs_the_real_exporters_and_agrees():
    result = run_cli("check", "examples/shape_head.py:build_warp", "--target", "onnx:13", "--target", "onnx:17",
                     "--confirm", "--format", "json")
    (model,) = json.loads(result.stdout)["models"]
    outcome = {(c["target"], c["path"]): c["converted"] for c in model["confirmations"]}
    assert outcome == {("onnx:13", "dynamo"): False, ("onnx:13", "torchscript"): False,
                       ("onnx:17", "dynamo"): True, ("onnx:17", "torchscript"): True}
    assert all(c["by"] == "converter" for c in model["confirmations"])
    assert {t["target"]: t["exportable"] for t in model["targets"]} == {"onnx:13": False, "onnx:17": True}
