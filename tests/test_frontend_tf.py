"""TF/Keras front end: capture, and static verdicts that agree with the real converters.

Every model is captured once and converted once per target in module fixtures (TFLiteConverter with
builtins only and with SELECT_TF_OPS, coremltools for iOS16, tf2onnx at opset 17).
"""

from __future__ import annotations

import textwrap

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("coremltools")
pytest.importorskip("tf2onnx")

from exportlint.capture.tensorflow import (  # noqa: E402
    capture_concrete_function,
    capture_tf,
    is_tf_spec,
    to_concrete_function,
)
from exportlint.errors import LoadError, UsageError  # noqa: E402
from exportlint.ir import NodeKind  # noqa: E402
from exportlint.tables import load_table, support  # noqa: E402
from exportlint.tables.generate import tf_tables  # noqa: E402

TARGETS = ("tflite", "tflite:select", "coreml:iOS16", "onnx:17")
RISKY = ("rfft", "inv", "unique", "resize_bicubic", "gelu_exact")
KERAS = ("MobileNetV3Small", "ResNet50", "EfficientNetB0")

needs_tables = pytest.mark.skipif(load_table("tf", "tflite") is None, reason="tf tables not generated")


def blocking(graph, target: str) -> set[str]:
    """Op types (without `tf.`) whose table verdict blocks `target`."""
    return {op.removeprefix("tf.") for op in graph.by_op if support(op, target, "tf").blocks}


def real(fn, target: str) -> tf_tables.Outcome:
    if target.startswith("tflite"):
        return tf_tables.convert_tflite(fn, select=target == "tflite:select")
    if target.startswith("coreml"):
        return tf_tables.convert_coreml(fn, target.split(":")[1])
    return tf_tables.convert_onnx(fn, int(target.split(":")[1]))


def named_by_converter(outcome: tf_tables.Outcome, target: str) -> set[str]:
    """The TF op types the converter's failure names (best effort per converter)."""
    if target.startswith("tflite"):
        return tf_tables.tflite_unsupported_ops(outcome.reason)
    if target.startswith("coreml"):
        op = tf_tables.coreml_unsupported_op(outcome.reason)
        return {op} if op else set()
    return tf_tables.onnx_unsupported_ops(outcome)


@pytest.fixture(scope="module")
def cases():
    """name -> (ConcreteFunction, OpGraph, {target: real Outcome})."""
    import tensorflow as tf

    functions = {}
    singles = tf_tables._single_ops()
    for name in RISKY:
        fn, specs = singles[name]
        functions[name] = (tf.function(fn, input_signature=specs).get_concrete_function(), None)
    models = tf_tables._keras_models()
    for name in KERAS:
        functions[name] = to_concrete_function(models[name](), name)
    out = {}
    for name, (fn, keras_model) in functions.items():
        graph = capture_concrete_function(fn, name, keras_model)
        out[name] = (fn, graph, {t: real(fn, t) for t in TARGETS})
    return out


@pytest.mark.slow
@needs_tables
@pytest.mark.parametrize("name", RISKY + KERAS)
@pytest.mark.parametrize("target", TARGETS)
def test_verdicts_agree_with_real_converters(cases, name, target):
    _, graph, outcomes = cases[name]
    outcome = outcomes[target]
    static = blocking(graph, target)
    assert (not static) == outcome.ok, f"static blocks {static}, converter: {outcome.ok} {outcome.reason}"
    if not outcome.ok:
        assert named_by_converter(outcome, target) <= static


@pytest.mark.slow
@needs_tables
def test_risky_verdicts_are_the_known_ones(cases):
    """Spot values, so that agreement above is not agreement on nothing."""
    assert blocking(cases["inv"][1], "tflite") == {"MatrixInverse"}
    assert blocking(cases["inv"][1], "tflite:select") == set()
    assert blocking(cases["resize_bicubic"][1], "coreml:iOS16") == {"ResizeBicubic"}
    assert blocking(cases["unique"][1], "tflite") == set()
    assert "Unique" in blocking(cases["unique"][1], "coreml:iOS16")
    assert support("tf.MatrixInverse", "tflite:select", "tf").via == "select-tf"


@pytest.mark.slow
@needs_tables
def test_keras_capture_has_layers_and_real_ops(cases):
    graph = cases["MobileNetV3Small"][1]
    assert graph.dialect == "tf"
    assert {"tf.Conv2D", "tf.DepthwiseConv2dNative", "tf.Relu6"} <= set(graph.by_op)
    assert not {"tf.Identity", "tf.Const", "tf.ReadVariableOp", "tf.NoOp"} & set(graph.by_op)
    conv = graph.by_op["tf.Conv2D"][0]
    assert conv.module and conv.module_type.endswith("Conv2D")
    assert conv.args["padding"] in ("SAME", "VALID") and conv.inputs[0].dtype == "float32"
    assert len(graph.inputs()) == 1 and graph.inputs()[0].outputs[0].shape == ("?", 96, 96, 3)


USER_MODULE = '''\
import tensorflow as tf


@tf.function
def helper(x):
    return tf.unique(x)[0]


@tf.function(input_signature=[tf.TensorSpec([2, 4, 4], tf.float32), tf.TensorSpec([8], tf.int32)])
def model(x, ids):
    y = tf.linalg.inv(x)
    return y, helper(ids)


def make():
    return model


def not_a_model():
    return 3
'''


@pytest.fixture(scope="module")
def user_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tfspec") / "tfmodel.py"
    path.write_text(USER_MODULE)
    return path


def test_spec_kinds(tmp_path, user_file):
    assert is_tf_spec(f"{user_file}:make")
    torch_file = tmp_path / "torchmodel.py"
    torch_file.write_text("import torch\n\ndef make():\n    return torch.nn.Linear(2, 2)\n")
    assert not is_tf_spec(f"{torch_file}:make")
    assert is_tf_spec("model.keras") and not is_tf_spec("model.onnx")
    saved = tmp_path / "sm"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    assert is_tf_spec(str(saved))


def test_factory_spec_locations_and_inlining(user_file):
    graph = capture_tf(f"{user_file}:make")
    lines = USER_MODULE.splitlines()
    inv = graph.by_op["tf.MatrixInverse"][0]
    assert inv.location.path == str(user_file)
    assert "tf.linalg.inv" in lines[inv.location.line - 1]
    unique = graph.by_op["tf.Unique"][0]  # inside the nested tf.function: inlined, not a call
    assert "tf.unique" in lines[unique.location.line - 1]
    assert "tf.PartitionedCall" not in graph.by_op and "tf.StatefulPartitionedCall" not in graph.by_op
    assert [n.outputs[0].dtype for n in graph.inputs()] == ["float32", "int32"]
    assert len(list(graph.nodes(NodeKind.OUTPUT))) == 2
    assert graph.predecessors(unique)[0].kind is NodeKind.INPUT


def test_keras_file_and_saved_model(tmp_path):
    import keras
    import tensorflow as tf

    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Conv2D(4, 3, name="my_conv")(inputs)
    model = keras.Model(inputs, keras.layers.Activation("hard_sigmoid")(outputs))
    model.save(tmp_path / "m.keras")
    graph = capture_tf(str(tmp_path / "m.keras"))
    conv = graph.by_op["tf.Conv2D"][0]
    assert conv.module == "my_conv"

    module = tf.Module()
    module.f = tf.function(lambda x: tf.unique(x)[0], input_signature=[tf.TensorSpec([None], tf.int32)])
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures=module.f)
    graph = capture_tf(str(tmp_path / "sm"))
    assert "tf.Unique" in graph.by_op
    assert graph.inputs()[0].outputs[0].shape == ("?",)


@pytest.mark.parametrize("spec, message, error", [
    ("{user}:not_a_model", "expected a keras.Model", LoadError),
    ("{user}:missing", "has no attribute", LoadError),
    ("{tmp}/absent.keras", "no such file", UsageError),
])
def test_bad_specs_are_one_line_errors(tmp_path, user_file, spec, message, error):
    with pytest.raises(error) as err:
        capture_tf(spec.format(user=user_file, tmp=tmp_path))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_untyped_tf_function_is_usage_error(tmp_path):
    path = tmp_path / "untyped.py"
    path.write_text(textwrap.dedent("""\
        import tensorflow as tf

        def make():
            return tf.function(lambda x: x + 1)
    """))
    with pytest.raises(LoadError, match="input_signature"):
        capture_tf(f"{path}:make")
