"""exportlint's verdicts against the real converters' labels (benchmarks/labels.json and, for the TensorFlow /
Keras corpus, benchmarks/labels_tf.json, made by label.py).

    python benchmarks/accuracy.py                                  # every labelled model and target
    python benchmarks/accuracy.py --corpus tf                      # the TF part only
    python benchmarks/accuracy.py --models risky.unique hf.bert --targets onnx:17 tflite --json out.json

Runs `exportlint check SPEC --target ... --format json` once per model (a subprocess with a timeout; a crash or
timeout counts as a disagreement on every pair of that model) and prints the agreement per target (against
"some conversion path works"), per (target, path) and on the default path, the always-"exportable" baseline, and the false
"exportable" / false "blocked" pairs with the converter's error and exportlint's first error finding.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from label import LABELS, LABELS_TF, PAIRS, TF_PAIRS, spec_of  # noqa: E402

CORPORA = {"torch": (LABELS, PAIRS), "tf": (LABELS_TF, TF_PAIRS)}
TARGETS = list(dict.fromkeys(t for _, pairs in CORPORA.values() for family in pairs.values() for t, _ in family))
# each converter's first path, per corpus
DEFAULT_PATH = {name: {t: p for family in pairs.values() for t, p in reversed(family)}
                for name, (_, pairs) in CORPORA.items()}


def run_exportlint(command: list[str], spec: str, targets: list[str], static: bool, timeout: float) -> dict:
    """exportlint's JSON report for one model: {"targets": {target: entry}, "findings": [...], "error": str}."""
    argv = command + ["check", spec, "--format", "json"] + [a for t in targets for a in ("--target", t)]
    if static:
        argv.append("--static")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=HERE.parent, env=env)
    except subprocess.TimeoutExpired:
        return {"targets": {}, "findings": [], "error": f"exportlint timed out after {timeout:.0f} s"}
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError:
        tail = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        return {"targets": {}, "findings": [],
                "error": f"exportlint exited {proc.returncode}: {tail[-1][:250] if tail else 'no output'}"}
    entry = next((m for m in doc["models"] if m["model"] == spec), {"targets": []})
    return {"targets": {t["target"]: t for t in entry["targets"]}, "findings": doc["findings"], "error": ""}


def first_error(findings: list[dict], spec: str, target: str) -> str:
    for f in findings:
        if f["model"] == spec and f["severity"] == "error" and f["target"] in (target, None):
            where = f"{f['location']['path']}:{f['location']['line']}: " if f["location"] else ""
            return f"{where}{f['code']} {f['message']}"[:300]
    return ""


def compare(labels: dict, model_ids: list[str], targets: list[str], verdicts: dict, corpus: str) -> list[dict]:
    """One row per (model, target): labels per path, exportlint's verdicts per path, agreement."""
    rows = []
    for model_id in model_ids:
        got = verdicts[model_id]
        for target in targets:
            paths = labels[model_id].get(target)
            if not paths:
                continue
            entry = got["targets"].get(target)
            path_verdicts = {p["path"]: p["exportable"] for p in entry.get("paths", [])} if entry else {}
            rows.append({
                "model": model_id, "target": target,
                "label": any(lab["ok"] for lab in paths.values()),
                "labels": {p: lab["ok"] for p, lab in paths.items()},
                "errors": {p: lab["error"] for p, lab in paths.items() if not lab["ok"]},
                "exportable": entry["exportable"] if entry else None,
                "default_label": paths[DEFAULT_PATH[corpus][target]]["ok"],
                "default_exportable": entry.get("default_path_exportable", entry["exportable"]) if entry else None,
                "paths": path_verdicts,
                "finding": first_error(got["findings"], spec_of(model_id), target) or got["error"],
            })
    return rows


def _pct(agree: int, total: int) -> str:
    return f"{agree:4d}/{total:<4d} {100 * agree / total:5.1f} %" if total else "   -"


def summarise(rows: list[dict], targets: list[str]) -> dict:
    per_target, per_path = {}, {}
    for target in targets:
        mine = [r for r in rows if r["target"] == target]
        per_target[target] = {
            "pairs": len(mine),
            "agree": sum(r["exportable"] == r["label"] for r in mine),
            "default_agree": sum(r["default_exportable"] == r["default_label"] for r in mine),
            "always_exportable": sum(r["label"] for r in mine),
            "false_exportable": sum(r["exportable"] is True and not r["label"] for r in mine),
            "false_blocked": sum(r["exportable"] is False and r["label"] for r in mine),
            "no_verdict": sum(r["exportable"] is None for r in mine),
        }
        for path in dict.fromkeys(p for r in mine for p in r["labels"]):
            judged = [r for r in mine if path in r["labels"]]
            per_path[f"{target} {path}"] = {
                "pairs": len(judged),
                "judged": sum(path in r["paths"] for r in judged),
                "agree": sum(r["paths"].get(path) == r["labels"][path] for r in judged),
                "always_exportable": sum(r["labels"][path] for r in judged),
            }
    overall = {key: sum(v[key] for v in per_target.values()) for key in next(iter(per_target.values()), {})}
    return {"per_target": per_target, "per_path": per_path, "overall": overall}


def print_summary(summary: dict, rows: list[dict]) -> None:
    print(f"\n{'target':14} {'agreement':>18} {'always exportable':>20} {'false exp.':>10} {'false bl.':>9} "
          f"{'no verdict':>10} {'default path':>18}")
    for target, s in [*summary["per_target"].items(), ("overall", summary["overall"])]:
        if s["pairs"]:
            print(f"{target:14} {_pct(s['agree'], s['pairs']):>18} {_pct(s['always_exportable'], s['pairs']):>20} "
                  f"{s['false_exportable']:10d} {s['false_blocked']:9d} {s['no_verdict']:10d} "
                  f"{_pct(s['default_agree'], s['pairs']):>18}")
    print(f"\n{'target path':26} {'agreement':>18} {'always exportable':>20} {'judged':>7}")
    for key, s in summary["per_path"].items():
        print(f"{key:26} {_pct(s['agree'], s['pairs']) if s['judged'] else '-':>18} {_pct(s['always_exportable'], s['pairs']):>20} "
              f"{s['judged']:7d}")
    if not any(s["judged"] for s in summary["per_path"].values()):
        print("(this exportlint reports no per-path verdicts: `paths` is missing from its JSON)")
    for title, wrong in [("false exportable (the converter fails on every path)", True),
                         ("false blocked (some path converts)", False)]:
        picked = [r for r in rows if r["exportable"] is wrong and r["label"] is not wrong]
        print(f"\n{title}: {len(picked)}")
        for r in picked:
            print(f"  {r['model']} {r['target']}")
            for path, error in r["errors"].items():
                print(f"      converter {path}: {error[:220]}")
            print(f"      exportlint: {r['finding'][:220] or 'no error finding'}")
    failed = sorted({r["model"] for r in rows if r["exportable"] is None})
    if failed:
        print(f"\nno verdict (exportlint crashed, timed out or left the target out): {len(failed)}")
        for model_id in failed:
            print(f"  {model_id:30} {next(r['finding'] for r in rows if r['model'] == model_id)[:240]}")


def supports_static(command: list[str]) -> bool:
    proc = subprocess.run(command + ["check", "--help"], capture_output=True, text=True, cwd=HERE.parent)
    return "--static" in proc.stdout


def score(corpus: str, labels: dict, model_ids: list[str], opts, command: list[str], static: bool) -> dict:
    """Run exportlint on one corpus's models, print and return its rows, summary and seconds."""
    print(f"\n== {'TensorFlow / Keras' if corpus == 'tf' else 'PyTorch'} corpus: {len(model_ids)} models ==")
    verdicts, seconds = {}, {}
    for model_id in model_ids:
        targets = [t for t in opts.targets if t in labels[model_id]]
        start = time.perf_counter()
        verdicts[model_id] = run_exportlint(command, spec_of(model_id), targets, static, opts.timeout)
        seconds[model_id] = round(time.perf_counter() - start, 2)
        shown = " ".join(f"{t}={'?' if t not in verdicts[model_id]['targets'] else 'exp' if verdicts[model_id]['targets'][t]['exportable'] else 'BLK'}"
                         for t in targets)
        print(f"{model_id:32} {seconds[model_id]:6.1f}s  {shown}  {verdicts[model_id]['error']}", flush=True)
    rows = compare(labels, model_ids, opts.targets, verdicts, corpus)
    summary = summarise(rows, opts.targets)
    print_summary(summary, rows)
    converters = sorted(sum(lab["seconds"] for t in opts.targets for lab in labels[m].get(t, {}).values())
                        for m in model_ids)
    print(f"\nexportlint seconds per model: total {sum(seconds.values()):.1f}, "
          f"median {sorted(seconds.values())[len(seconds) // 2]:.1f}, max {max(seconds.values()):.1f}; "
          f"the converters' (labels, these targets): median {converters[len(converters) // 2]:.1f}, "
          f"max {converters[-1]:.1f}")
    return {"summary": summary, "rows": rows, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=("all", *CORPORA), default="all",
                        help="the PyTorch corpus, the TensorFlow / Keras one, or both (default)")
    parser.add_argument("--models", nargs="+", metavar="ID", help="corpus ids (MODULE.FACTORY); default: all labelled")
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=TARGETS)
    parser.add_argument("--json", metavar="OUT", help="write the rows and the summary as JSON")
    parser.add_argument("--static", action="store_true", help="pass --static to exportlint (strictly static mode)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per exportlint run")
    parser.add_argument("--exportlint", default=f"{shlex.quote(sys.executable)} -m exportlint",
                        help="the exportlint command (default: this Python's)")
    opts = parser.parse_args(argv)
    command = shlex.split(opts.exportlint)
    static = opts.static and supports_static(command)
    if opts.static and not static:
        print("this exportlint has no --static: running its default mode", file=sys.stderr)
    chosen = [c for c in CORPORA if opts.corpus in (c, "all") and CORPORA[c][0].exists()]
    labels = {c: json.loads(CORPORA[c][0].read_text())["labels"] for c in chosen}
    missing = [m for m in opts.models or [] if not any(m in labels[c] for c in chosen)]
    if missing:
        parser.error(f"not labelled: {', '.join(missing)}")
    out = {}
    for corpus in chosen:
        model_ids = [m for m in opts.models or sorted(labels[corpus]) if m in labels[corpus]]
        if model_ids:
            out[corpus] = score(corpus, labels[corpus], model_ids, opts, command, static)
    if opts.json:
        Path(opts.json).write_text(json.dumps({**out, "static": static}, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
