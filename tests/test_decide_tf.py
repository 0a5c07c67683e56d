"""TF / Keras verdicts decided with the real converters (`exportlint.decide_tf`), each fix with a failing
and a passing case: complete registries block unknown ops, TFLite decided by its converter (with the shape
condition of Keras 3 RNNs and its fix), control-flow bodies captured, Core ML's crash on RNNs and its sort,
tf.Module specs, locations in the user's code and no TensorFlow banner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("coremltools")
pytest.importorskip("tf2onnx")

from exportlint.capture.tensorflow import capture_tf  # noqa: E402
from exportlint.config import Options  # noqa: E402
from exportlint.errors import LoadError  # noqa: E402
from exportlint.run import check_specs  # noqa: E402
from exportlint.targets import parse_target  # noqa: E402

MODELS = '''\
import keras
import tensorflow as tf


def _op(fn, *specs):
    class Op(tf.Module):
        @tf.function(input_signature=list(specs))
        def __call__(self, *xs):
            return fn(*xs)
    return Op()


def bucketize():
    return _op(lambda x: tf.raw_ops.Bucketize(input=x, boundaries=[0.0, 1.0]), tf.TensorSpec([4], tf.float32))


def ctc():
    def decode(logits, lengths):
        return tf.sparse.to_dense(tf.nn.ctc_greedy_decoder(logits, lengths)[0][0])
    return _op(decode, tf.TensorSpec([10, 1, 5], tf.float32), tf.TensorSpec([1], tf.int32))


def relu():
    return _op(lambda x: tf.nn.relu(x), tf.TensorSpec([4], tf.float32))


def sort():
    return _op(lambda x: tf.sort(x, direction="DESCENDING"), tf.TensorSpec([2, 8], tf.float32))


def roll():
    return _op(lambda x: tf.roll(x, 1, axis=0), tf.TensorSpec([4], tf.float32))


def rnn(batch_size=None):
    inputs = keras.Input((4, 3), batch_size=batch_size)
    return keras.Model(inputs, keras.layers.SimpleRNN(4, name="my_rnn")(inputs))


def rnn_batch1():
    return rnn(batch_size=1)


def no_signature():
    class Plain(tf.Module):
        @tf.function
        def __call__(self, x):
            return x
    return Plain()
'''


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tfdecide") / "tfmodels.py"
    path.write_text(MODELS)
    return path


@pytest.fixture(autouse=True)
def no_cache(monkeypatch):
    monkeypatch.setenv("EXPORTLINT_NO_CACHE", "1")


def verdicts(spec: str, targets: list[str], decide: str = "auto"):
    """({target: exportable}, error findings) of one spec."""
    report = check_specs([spec], Options(targets=[parse_target(t) for t in targets], decide=decide), [], [])
    exportable = {t.target: t.exportable for t in report.models[0].targets}
    return exportable, [f for f in report.findings if f.severity.value == "error"], report


def test_an_op_in_no_complete_registry_blocks_core_ml_and_onnx_statically(models):
    exportable, errors, _ = verdicts(f"{models}:bucketize", ["coreml:iOS16", "onnx:17"], decide="static")
    assert exportable == {"coreml:iOS16": False, "onnx:17": False}
    assert all("tf.Bucketize is in no support table" in f.message for f in errors)
    assert verdicts(f"{models}:relu", ["coreml:iOS16", "onnx:17"], decide="static")[0] == {
        "coreml:iOS16": True, "onnx:17": True}


def test_tflite_is_decided_by_its_converter_where_no_probe_says(models):
    exportable, errors, report = verdicts(f"{models}:ctc", ["tflite", "tflite:select"])
    assert exportable == {"tflite": False, "tflite:select": True}
    assert {(d.target, d.converted) for d in report.models[0].confirmations} == {
        ("tflite", False), ("tflite:select", True)}
    assert "CTCGreedyDecoder" in errors[0].message and "TFLiteConverter" in errors[0].message
    assert errors[0].location is not None and errors[0].location.path.endswith("tfmodels.py")
    assert verdicts(f"{models}:bucketize", ["tflite"])[0] == {"tflite": True}  # a TFLite builtin: BUCKETIZE


def test_keras_rnn_needs_a_static_batch_for_tflite_builtins_and_the_fix_says_so(models):
    exportable, errors, _ = verdicts(f"{models}:rnn", ["tflite"])
    assert exportable == {"tflite": False}
    assert "batch_size=1" in errors[0].message and "unroll=True" in errors[0].message
    assert errors[0].module == "my_rnn" or "my_rnn" in (errors[0].node or "")
    assert verdicts(f"{models}:rnn_batch1", ["tflite"])[0] == {"tflite": True}


def test_control_flow_bodies_are_captured(models):
    graph = capture_tf(f"{models}:rnn")
    body = [n for n in graph.by_op.get("tf.MatMul", []) if "/body/" in n.name]
    assert body and body[0].module == "my_rnn"
    assert "tf.While" in graph.by_op
    assert not any("/body/" in n.name for n in capture_tf(f"{models}:relu").by_op["tf.Relu"])


def test_core_ml_is_decided_by_its_converter_sort_converts_a_keras_rnn_crashes(models):
    assert verdicts(f"{models}:sort", ["coreml:iOS16"])[0] == {"coreml:iOS16": True}
    exportable, errors, _ = verdicts(f"{models}:rnn_batch1", ["coreml:iOS16"])
    assert exportable == {"coreml:iOS16": False}
    assert "handler for tf.Less" in errors[0].message  # the converter's own reason, at its op


def test_tf_module_specs(models):
    graph = capture_tf(f"{models}:sort")
    assert "tf.TopKV2" in graph.by_op and graph.inputs()[0].outputs[0].shape == (2, 8)
    with pytest.raises(LoadError, match="without input_signature"):
        capture_tf(f"{models}:no_signature")


def test_findings_are_in_user_code_and_tensorflow_prints_no_banner(models, tmp_path):
    env = {**os.environ, "EXPORTLINT_NO_CACHE": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    proc = subprocess.run([sys.executable, "-m", "exportlint", "check", f"{models}:roll", "--static",
                           "--target", "coreml:iOS16"], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr == ""
    line = next(ln for ln in proc.stdout.splitlines() if "EXL101" in ln)
    assert line.startswith(f"{models}:") and "tf.Roll" in line
    assert "exportlint/" not in line.split(": EXL101")[0]
