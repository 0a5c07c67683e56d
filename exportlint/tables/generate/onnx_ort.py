"""`onnx-ort.json`: which ONNX ops each ONNX Runtime mobile execution provider takes.

Facts from the support lists that ship inside the installed onnxruntime
(`onnxruntime/tools/mobile_helpers/*_supported_ops.md`), the same files ORT's own mobile usability checker
(`python -m onnxruntime.tools.check_onnx_model_mobile_usability`) reads. A listed op is "supported" with the
file's caveat as its note (the checker does not test caveats either: "Only 2D Conv is supported"); any other op
is "fallback": the session still runs it, on the CPU execution provider, and the model is split into partitions.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from exportlint.tables.generate import docs_table, onnx_op_names, write_table

GENERATOR_VERSION = "1"
EP_NAMES = {"nnapi": "NNAPI", "coreml": "Core ML (ML Program)", "coreml-nn": "Core ML (NeuralNetwork)"}
SUPPORT_FILES = {"nnapi": "nnapi_supported_ops.md", "coreml": "coreml_supported_mlprogram_ops.md",
                 "coreml-nn": "coreml_supported_neuralnetwork_ops.md"}


def support_file(version: str) -> Path:
    from onnxruntime.tools import mobile_helpers

    return Path(mobile_helpers.__file__).parent / SUPPORT_FILES[version]


def read_support(path: Path) -> dict[str, str]:
    """`domain::Op` -> caveat, parsed as the usability checker's `_SupportedOpsChecker` parses the file."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        pieces = line.strip().split("|")
        if line.startswith("|") and len(pieces) == 4 and ":" in pieces[1]:
            domain, _, op = pieces[1].partition(":")
            out[f"{domain}::{op}"] = pieces[2].replace("<br/>", " ").strip()
    return out


def op_entry(version: str, supported: dict[str, str], op: str) -> dict[str, Any]:
    file = SUPPORT_FILES[version]
    if op not in supported:
        return {"status": "fallback", "evidence": "docs",
                "reason": f"the {EP_NAMES[version]} EP does not take it (not in onnxruntime's {file}): it runs "
                          "on the CPU EP"}
    entry = {"status": "supported", "evidence": "docs"}
    if supported[op]:
        entry["note"] = supported[op]
    return entry


def build_table() -> dict[str, Any]:
    from exportlint.tables.probe.harness import library_versions

    lists = {v: read_support(support_file(v)) for v in SUPPORT_FILES}
    names = onnx_op_names({op for ops in lists.values() for op in ops})
    return docs_table(
        "ort", list(SUPPORT_FILES), "exportlint.tables.generate.onnx_ort", GENERATOR_VERSION,
        library_versions("onnx", "onnxruntime"),
        [f"onnxruntime/tools/mobile_helpers/{f} (sha256 {hashlib.sha256(support_file(v).read_bytes()).hexdigest()[:16]})"
         for v, f in SUPPORT_FILES.items()],
        {op: {v: op_entry(v, lists[v], op) for v in SUPPORT_FILES} for op in names},
        entries={v: len(ops) for v, ops in lists.items()})


def generate(out_dir: Path, probe: bool) -> list[Path]:
    return [write_table(out_dir, build_table())]
