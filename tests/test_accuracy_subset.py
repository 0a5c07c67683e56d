"""A labelled subset of the accuracy corpus (docs/accuracy.md): exportlint's verdicts must keep matching the
real converters' labels in benchmarks/labels.json on the pairs listed below. exportlint runs in its strictly
static mode (`--static`: tables only, no converter run), so the test is quick and checks the tables.

The lists are a ratchet: they hold the pairs where exportlint agrees today. Add pairs as verdicts improve;
a pair that starts to disagree fails with the converter's error and exportlint's first error finding.
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from conftest import ROOT
from exportlint.cli import main

LABELS = json.loads((ROOT / "benchmarks" / "labels.json").read_text())["labels"]
TARGETS = ["onnx:13", "onnx:17", "onnx:18", "coreml:iOS15", "coreml:iOS16", "tflite"]

# (model id, target): exportlint's `exportable` equals "some conversion path works".
AGREE_TARGET = {
    ("hf.bert", "onnx:13"), ("hf.bert", "onnx:17"), ("hf.bert", "onnx:18"), ("hf.bert", "coreml:iOS15"),
    ("hf.bert", "coreml:iOS16"), ("hf.bert", "tflite"),
    ("risky.custom_op", "onnx:13"), ("risky.custom_op", "onnx:17"), ("risky.custom_op", "onnx:18"),
    ("risky.custom_op", "tflite"),
    ("risky.div_floor", "onnx:13"), ("risky.div_floor", "onnx:17"), ("risky.div_floor", "onnx:18"),
    ("risky.div_floor", "coreml:iOS15"), ("risky.div_floor", "coreml:iOS16"), ("risky.div_floor", "tflite"),
    ("risky.grid_sample_bicubic", "onnx:13"), ("risky.grid_sample_bicubic", "onnx:17"),
    ("risky.grid_sample_bicubic", "onnx:18"), ("risky.grid_sample_bicubic", "tflite"),
    ("risky.logit", "onnx:13"), ("risky.logit", "onnx:17"), ("risky.logit", "onnx:18"), ("risky.logit", "tflite"),
    ("risky.pad_circular", "onnx:13"), ("risky.pad_circular", "onnx:17"), ("risky.pad_circular", "onnx:18"),
    ("risky.pad_circular", "tflite"),
    ("risky.unique", "onnx:13"), ("risky.unique", "onnx:17"), ("risky.unique", "onnx:18"),
    ("risky.unique", "coreml:iOS15"), ("risky.unique", "coreml:iOS16"), ("risky.unique", "tflite"),
}
# (model id, target, path): the entry of exportlint's `paths` equals that path's label.
AGREE_PATH = {
    ("hf.bert", "onnx:13", "dynamo"), ("hf.bert", "onnx:13", "torchscript"), ("hf.bert", "onnx:17", "dynamo"),
    ("hf.bert", "onnx:17", "torchscript"), ("hf.bert", "onnx:18", "dynamo"), ("hf.bert", "onnx:18", "torchscript"),
    ("hf.bert", "coreml:iOS15", "export"), ("hf.bert", "coreml:iOS15", "trace"),
    ("hf.bert", "coreml:iOS16", "export"), ("hf.bert", "coreml:iOS16", "trace"), ("hf.bert", "tflite", "litert"),
    ("risky.custom_op", "onnx:13", "dynamo"), ("risky.custom_op", "onnx:13", "torchscript"),
    ("risky.custom_op", "onnx:17", "dynamo"), ("risky.custom_op", "onnx:17", "torchscript"),
    ("risky.custom_op", "onnx:18", "dynamo"), ("risky.custom_op", "onnx:18", "torchscript"),
    ("risky.custom_op", "coreml:iOS15", "export"), ("risky.custom_op", "coreml:iOS16", "export"),
    ("risky.custom_op", "tflite", "litert"),
    ("risky.div_floor", "onnx:13", "dynamo"), ("risky.div_floor", "onnx:13", "torchscript"),
    ("risky.div_floor", "onnx:17", "dynamo"), ("risky.div_floor", "onnx:17", "torchscript"),
    ("risky.div_floor", "onnx:18", "dynamo"), ("risky.div_floor", "onnx:18", "torchscript"),
    ("risky.div_floor", "coreml:iOS15", "export"), ("risky.div_floor", "coreml:iOS15", "trace"),
    ("risky.div_floor", "coreml:iOS16", "export"), ("risky.div_floor", "coreml:iOS16", "trace"),
    ("risky.div_floor", "tflite", "litert"),
    ("risky.grid_sample_bicubic", "onnx:13", "dynamo"), ("risky.grid_sample_bicubic", "onnx:13", "torchscript"),
    ("risky.grid_sample_bicubic", "onnx:17", "dynamo"), ("risky.grid_sample_bicubic", "onnx:17", "torchscript"),
    ("risky.grid_sample_bicubic", "onnx:18", "dynamo"), ("risky.grid_sample_bicubic", "onnx:18", "torchscript"),
    ("risky.grid_sample_bicubic", "coreml:iOS15", "export"), ("risky.grid_sample_bicubic", "coreml:iOS16", "export"),
    ("risky.grid_sample_bicubic", "tflite", "litert"),
    ("risky.logit", "onnx:13", "dynamo"), ("risky.logit", "onnx:13", "torchscript"),
    ("risky.logit", "onnx:17", "dynamo"), ("risky.logit", "onnx:17", "torchscript"),
    ("risky.logit", "onnx:18", "dynamo"), ("risky.logit", "onnx:18", "torchscript"),
    ("risky.logit", "coreml:iOS15", "export"), ("risky.logit", "coreml:iOS16", "export"),
    ("risky.logit", "tflite", "litert"),
    ("risky.pad_circular", "onnx:13", "dynamo"), ("risky.pad_circular", "onnx:13", "torchscript"),
    ("risky.pad_circular", "onnx:17", "dynamo"), ("risky.pad_circular", "onnx:17", "torchscript"),
    ("risky.pad_circular", "onnx:18", "dynamo"), ("risky.pad_circular", "onnx:18", "torchscript"),
    ("risky.pad_circular", "coreml:iOS15", "export"), ("risky.pad_circular", "coreml:iOS16", "export"),
    ("risky.pad_circular", "tflite", "litert"),
    ("risky.unique", "onnx:13", "torchscript"), ("risky.unique", "onnx:17", "dynamo"),
    ("risky.unique", "onnx:17", "torchscript"), ("risky.unique", "onnx:18", "dynamo"),
    ("risky.unique", "onnx:18", "torchscript"), ("risky.unique", "coreml:iOS15", "export"),
    ("risky.unique", "coreml:iOS15", "trace"), ("risky.unique", "coreml:iOS16", "export"),
    ("risky.unique", "coreml:iOS16", "trace"), ("risky.unique", "tflite", "litert"),
}
MODELS = sorted({m for m, *_ in AGREE_TARGET | AGREE_PATH})


def spec_of(model_id: str) -> str:
    module, factory = model_id.split(".", 1)
    return f"{ROOT / 'benchmarks' / 'corpus' / module}.py:{factory}"


@pytest.fixture(scope="module")
def report():
    """One in-process static exportlint run over the subset: ({spec: {target: entry}}, findings)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["check", *map(spec_of, MODELS), *[a for t in TARGETS for a in ("--target", t)], "--static",
              "--format", "json", "--exit-zero"])
    doc = json.loads(out.getvalue())
    return {m["model"]: {t["target"]: t for t in m["targets"]} for m in doc["models"]}, doc["findings"]


def explain(report, model_id: str, target: str, paths: list[str]) -> str:
    errors = "; ".join(f"{p}: {LABELS[model_id][target][p]['error'] or 'ok'}" for p in paths)
    finding = next((f"{f['code']} {f['message']}" for f in report[1] if f["model"] == spec_of(model_id)
                    and f["severity"] == "error" and f["target"] in (target, None)), "no error finding")
    return f"{model_id} {target}: converter {errors}; exportlint {finding}"


@pytest.mark.parametrize("model_id", MODELS)
def test_target_verdicts_match_the_converters(report, model_id):
    verdicts = report[0][spec_of(model_id)]
    for model, target in sorted(AGREE_TARGET):
        if model == model_id:
            labels = LABELS[model][target]
            assert verdicts[target]["exportable"] == any(lab["ok"] for lab in labels.values()), \
                explain(report, model, target, sorted(labels))


@pytest.mark.parametrize("model_id", MODELS)
def test_path_verdicts_match_the_converters(report, model_id):
    verdicts = report[0][spec_of(model_id)]
    for model, target, path in sorted(AGREE_PATH):
        if model == model_id:
            got = {p["path"]: p["exportable"] for p in verdicts[target]["paths"]}
            assert got[path] == LABELS[model][target][path]["ok"], explain(report, model, target, [path])


def test_the_ratchet_names_labelled_pairs_only():
    assert all(t in LABELS[m] for m, t in AGREE_TARGET)
    assert all(p in LABELS[m].get(t, {}) for m, t, p in AGREE_PATH)
