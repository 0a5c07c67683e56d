"""Import hygiene of the source-only pass (the pre-commit hook): what a cold `exportlint check FILE.py`
imports. Its speed is measured by benchmarks/source_pass.py, not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys

# Frameworks, the graph IR's dependencies, and exportlint's graph side: none is needed to lint source.
HEAVY = ("torch", "tensorflow", "coremltools", "onnx", "onnxruntime", "networkx", "numpy",
         "exportlint.capture", "exportlint.fix", "exportlint.tables",
         "exportlint.source.fix")


def _imported(*argv: str, cwd) -> list[str]:
    code = ("import json, sys; from exportlint.cli import main; rc = main(sys.argv[1:]);"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    return json.loads(done.stderr.strip().splitlines()[-1])


def test_checking_a_file_imports_no_graph_machinery(tmp_path):
    (tmp_path / "model.py").write_text(
        "import torch\nimport torch.nn.functional as F\n\n\ndef head(x):\n"
        "    return F.avg_pool2d(x, x.size()[2:])  # exportlint: ignore[EXL101]\n")
    modules = _imported("check", "model.py", cwd=tmp_path)
    assert "libcst" in modules  # the file was parsed
    heavy = [m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    graph_checks = [m for m in modules if m.startswith("exportlint.checks.") and not m.startswith((
        "exportlint.checks.source_", "exportlint.checks.suppression", "exportlint.checks.load",
        "exportlint.checks.exotic_activations"))]  # the activation data EXL501 shares with EXL302
    assert heavy == [] and graph_checks == [], (heavy, graph_checks)


def test_codes_read_without_importing_are_the_registry():
    from exportlint.engine.registry import all_rules, known_codes, source_rules
    from exportlint.source.rule import SourceRule

    assert known_codes() == set(all_rules())
    assert source_rules() == {c: r for c, r in all_rules().items() if issubclass(r, SourceRule)}
