"""Decide TensorFlow / Keras targets with the real converters, on the ConcreteFunction already captured.

The TF counterpart of `exportlint.decide`, with the same modes and cache. The converters ship with the TF
stack and take seconds on a captured graph, so "auto" (the default) runs TFLite and tf2onnx for every target
(a probe of each op alone misses what the whole graph meets: tf2onnx's opset-13 Einsum without an output
shape, which onnx.checker rejects) and Core ML, the slowest, for each target whose ops the tables do not all
prove supported (an op in no table, a registry-only claim, an inconclusive probe, a blocker: the
converter's own reason then replaces the table's); "confirm" runs every converter. The calls: TFLite (`TFLiteConverter.from_concrete_functions`, builtins only or with
SELECT_TF_OPS, then TF's interpreter runs it unless select-TF ops are left, for which it has no Flex
delegate), Core ML (`ct.convert([fn], source="tensorflow")`, an ML Program; conversion only, prediction
needs macOS) and tf2onnx (at the target's opset, then `onnx.checker` and ONNX Runtime against TF's
outputs). `tflite:gpu` and TensorRT are not run (they need a device).
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from exportlint.decide import CONVERTER, Decision, DecisionCache, first_line, run_cached, validated
from exportlint.targets import DIRECT, Target

LIBRARIES = {"onnx": ("tensorflow-cpu", "tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"),
             "coreml": ("tensorflow-cpu", "tensorflow", "keras", "coremltools"),
             "tflite": ("tensorflow-cpu", "tensorflow", "keras")}

# Converter errors whose cause is a shape, with the fix: (pattern in the error, what to do).
SHAPE_FIXES = (
    ("requires element_shape to be static",
     "the batch dimension is unknown, and a Keras RNN's TensorList needs a static element shape: give the "
     "model a fixed batch size (`keras.Input(shape, batch_size=1)`) or unroll the RNN (`unroll=True`)"),
)


@dataclass(frozen=True)
class TFSubject:
    """What the TF runners convert: the captured ConcreteFunction, and the Keras model or tf.Module it came from."""

    fn: Any
    owner: Any = None

    def fingerprint(self) -> str:
        """The function's graph (ops, attributes, nested functions, shapes); variables' values are left out."""
        import hashlib

        return hashlib.sha256(self.fn.graph.as_graph_def().SerializeToString(deterministic=True)).hexdigest()


def example_inputs(fn) -> list:
    """Inputs for a ConcreteFunction's signature: unknown dims 1, floats in [0, 1), integers in [0, 3),
    booleans False, strings "a" (deterministic)."""
    import numpy as np

    rng = np.random.default_rng(0)
    out = []
    for spec in fn.structured_input_signature[0]:
        shape = [1 if d is None else d for d in spec.shape.as_list()]
        dtype = spec.dtype
        if dtype.is_floating:
            out.append(rng.random(shape).astype(dtype.as_numpy_dtype))
        elif dtype.is_integer:
            out.append(rng.integers(0, 3, shape).astype(dtype.as_numpy_dtype))
        elif dtype.is_bool:
            out.append(np.zeros(shape, bool))
        else:
            out.append(np.full(shape, b"a", dtype=object))
    return out


def decide_tf(fn, targets: list[Target], mode: str, proven: set[tuple[str, str]] = frozenset(),
              cache: bool = True, owner: Any = None) -> list[Decision]:
    """Run the converters `mode` asks for on the ConcreteFunction `fn` (of `owner`, a Keras model or
    tf.Module, when known), per target (path "direct"); `proven`: the (target, path) pairs whose every op
    the tables prove supported."""
    if mode == "static":
        return []
    runs = [t for t in targets if t.family in _RUNNERS and (t.family != "tflite" or t.version != "gpu")
            and (mode == "confirm" or t.family != "coreml" or (str(t), DIRECT.name) not in proven)]
    if not runs:
        return []
    subject = TFSubject(fn, owner)
    store = DecisionCache(subject.fingerprint(), LIBRARIES, __file__) if cache else None
    with _native_stderr_silenced():
        return [run_cached(store, subject, t, DIRECT.name, _RUNNERS[t.family], CONVERTER) for t in runs]


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """The converters' C++ logs (MLIR diagnostics, TF's kernels) go straight to fd 2: not the user's."""
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def with_fix(reason: str) -> str:
    """The converter's error, with the fix when its cause is a known shape condition."""
    return next((f"{reason}; {fix}" for pattern, fix in SHAPE_FIXES if pattern in reason), reason)


def _tflite(subject: TFSubject, target: Target) -> tuple[bool, str]:
    import tensorflow as tf

    from exportlint.tables.generate.tf_tables import tflite_op_names, tflite_reason

    converter = tflite_converter(subject.fn, subject.owner)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + (
        [tf.lite.OpsSet.SELECT_TF_OPS] if target.version == "select" else [])
    try:
        flatbuffer = converter.convert()
    except Exception as exc:  # noqa: BLE001 - the converter's failure is the verdict
        return False, with_fix(f"TFLiteConverter: {tflite_reason(str(exc))}")
    ops = tflite_op_names(flatbuffer)
    extra = [op for op in ops if not re.fullmatch(r"[A-Z0-9_]+", op)]
    if extra:  # select-TF ops: TF's interpreter has no Flex delegate to run them
        return True, f"TFLiteConverter with SELECT_TF_OPS: {len(ops)} op kinds, select-TF {', '.join(extra)}"
    run_interpreter(tf.lite.Interpreter(model_content=flatbuffer), example_inputs(subject.fn))
    return True, f"TFLiteConverter: {len(ops)} builtin op kinds; the interpreter ran it"


def tflite_converter(fn, owner: Any = None):
    """The TFLiteConverter a user makes: `from_keras_model` for a Keras model (its lookup tables become
    builtin HASHTABLE ops), else `from_concrete_functions` with the tf.Module as trackable. (Given a Keras
    model as trackable, `from_concrete_functions` keeps an RNN's variables as resources the interpreter
    cannot read.)"""
    import keras
    import tensorflow as tf

    if isinstance(owner, keras.Model):
        return tf.lite.TFLiteConverter.from_keras_model(owner)
    return tf.lite.TFLiteConverter.from_concrete_functions([fn], owner)


def run_interpreter(interpreter, inputs: list) -> None:
    """Allocate and invoke a TFLite interpreter on `inputs` (in signature order). The flatbuffer may list its
    inputs in another order: each input tensor takes the first unused value of its shape and dtype kind."""
    interpreter.allocate_tensors()
    left = list(inputs)
    for detail in sorted(interpreter.get_input_details(), key=lambda d: d["index"]):
        value = left.pop(next((i for i, v in enumerate(left) if tuple(v.shape) == tuple(detail["shape"])
                               and (v.dtype == object) == (detail["dtype"] == object)), 0))
        interpreter.set_tensor(detail["index"], value if value.dtype == object else value.astype(detail["dtype"]))
    interpreter.invoke()


def _coreml(subject: TFSubject, target: Target) -> tuple[bool, str]:
    import coremltools as ct

    try:
        ct.convert([subject.fn], source="tensorflow", convert_to="mlprogram", skip_model_load=True,
                   minimum_deployment_target=getattr(ct.target, target.version))
    except Exception as exc:  # noqa: BLE001 - the converter's failure is the verdict
        handler = coreml_handler(exc)
        return False, first_line(exc) + (f" (in coremltools' handler for tf.{handler})" if handler else "")
    return True, f"coremltools.convert at {target.version} (conversion only: prediction needs macOS)"


def coreml_handler(exc: BaseException) -> str | None:
    """The TF op whose coremltools handler raised `exc` (handlers are functions named after the op, in
    its TF frontend's `ops.py`): a crash names no op, its traceback does (`Less` in Keras 3's RNN loops)."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if re.search(r"coremltools[/\\]converters[/\\]mil[/\\]frontend[/\\]tensorflow2?[/\\]ops\.py$",
                           f.filename)]
    return frames[-1].name if frames and frames[-1].name[:1].isupper() else None


def _onnx(subject: TFSubject, target: Target) -> tuple[bool, str]:
    from exportlint.tables.generate.tf_tables import tf2onnx_model
    from exportlint.tables.probe.onnx_runner import validate_arrays

    inputs = example_inputs(subject.fn)
    expected = [t.numpy() for t in _flat(subject.fn(*inputs))]
    result = validate_arrays(tf2onnx_model(subject.fn, int(target.version)), int(target.version), inputs,
                             expected, deterministic=True, source="TensorFlow")
    return validated(result, f"tf2onnx produced {target}; onnx.checker and onnxruntime agree", "tf2onnx: ")


def _flat(out: Any) -> list:
    import tensorflow as tf

    return tf.nest.flatten(out)


_RUNNERS: dict[str, Callable[[TFSubject, Target], tuple[bool, str]]] = {
    "tflite": _tflite, "coreml": _coreml, "onnx": _onnx}
