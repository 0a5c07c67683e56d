"""`onnx-tensorrt.json`: which ONNX ops TensorRT's ONNX parser imports, per TensorRT version.

These are documented facts (TensorRT needs CUDA, so nothing can be probed here): onnx-tensorrt's
`docs/operators.md` on the release branch of each version, snapshotted with branch and commit in
`rules/probes/tensorrt-operators.json`. tensorrt:8.6 = branch 8.6-GA (ONNX opsets <= 17);
tensorrt:10 = branch 10.1-GA (opsets <= 20; the newest branch of the snapshot). Ops that the docs
do not list are unsupported (the parser falls back to a plugin lookup by op name).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from exportlint.tables.generate import docs_table, onnx_op_names, write_table

GENERATOR_VERSION = "1"
SNAPSHOT = Path(__file__).resolve().parents[3] / "rules" / "probes" / "tensorrt-operators.json"
# 64-bit handling per version, from the notes at the top of each branch's operators.md.
DTYPES = {
    "8.6": {"int64": {"status": "narrowed", "evidence": "docs",
                      "reason": "TensorRT 8.6 casts INT64 down to INT32, clamping to +-INT_MAX"},
            "float64": {"status": "narrowed", "evidence": "docs",
                        "reason": "TensorRT 8.6 casts DOUBLE down to FLOAT, clamping to +-FLT_MAX"}},
    "10": {"int64": {"status": "supported", "evidence": "docs",
                     "reason": "TensorRT 10 has INT64 tensors"},
           "float64": {"status": "narrowed", "evidence": "docs",
                       "reason": "TensorRT 10 casts DOUBLE down to FLOAT, clamping to +-FLT_MAX"}},
}


def op_entry(version: str, release: dict[str, Any], name: str) -> dict[str, Any]:
    fact = release["ops"].get(name)
    where = f"onnx-tensorrt {release['branch']} docs/operators.md"
    if fact is None:
        return {"status": "unsupported", "evidence": "docs",
                "reason": f"not listed in {where} (only a plugin of that name could import it)"}
    if not fact["supported"]:
        return {"status": "unsupported", "evidence": "docs",
                "reason": f"TensorRT {version} does not support {name} ({where})"}
    out = {"status": "supported", "evidence": "docs", "types": fact["types"]}
    if fact["restrictions"]:
        out["conditions"] = fact["restrictions"].replace("<br />", " ")
    return out


def build_table(snapshot: dict[str, Any]) -> dict[str, Any]:
    releases = snapshot["releases"]
    names = onnx_op_names({f"ai.onnx::{n}" for r in releases.values() for n in r["ops"]})
    ops = {n: {v: op_entry(v, r, n.removeprefix("ai.onnx::")) for v, r in releases.items()} for n in names}
    counts = {v: sum(1 for o in r["ops"].values() if o["supported"]) for v, r in releases.items()}
    table = docs_table("tensorrt", list(releases), "exportlint.tables.generate.onnx_tensorrt", GENERATOR_VERSION, {},
                       [snapshot["source"], snapshot["extracted_from"]], ops, supported_ops=counts,
                       releases={v: {k: r[k] for k in ("branch", "commit", "commit_date", "opset_max")}
                                 for v, r in releases.items()})
    return {**table, "max_opset": {v: r["opset_max"] for v, r in releases.items()}, "dtypes": DTYPES}


def generate(out_dir: Path, probe: bool) -> list[Path]:
    return [write_table(out_dir, build_table(json.loads(SNAPSHOT.read_text(encoding="utf-8"))))]
