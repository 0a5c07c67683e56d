"""Capture a TensorFlow/Keras model into a TF-dialect `OpGraph` (op names `tf.<OpType>`: `tf.Unique`).

SPEC is a `.keras` / `.h5` file, a SavedModel directory, or `module:factory` / `path.py:factory` whose
factory returns a `keras.Model`, a `tf.function` with an input signature, a ConcreteFunction, or a
`tf.Module` whose `__call__` is such a tf.function.
The concrete function's graph is walked with nested function calls (PartitionedCall and
StatefulPartitionedCall bodies, the XLA-compiled functions of Keras 3 layers among them) inlined so that
the real ops appear, and the functions control flow runs (While bodies, If branches) walked too; Identity/NoOp, constants and
variable reads are dropped (they are the weights, not operators). Each op points at the innermost
frame of its traceback in user code, and at its Keras layer (from the name scope) where it has one.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exportlint.capture.locate import Frame, locate
from exportlint.options import Options
from exportlint.errors import LoadError, UsageError, check_regular_file
from exportlint.ir import CaptureInfo, Location, NodeKind, OpGraph, OpNode, TensorMeta

if TYPE_CHECKING:
    import tensorflow as tf

KERAS_SUFFIXES = (".keras", ".h5")
PASS_THROUGH = frozenset({"Identity", "IdentityN", "NoOp", "StopGradient", "Snapshot"})
CONSTANT_LIKE = frozenset({"Const", "ReadVariableOp", "VarHandleOp"})
CALLS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
MAX_CONST_ARG = 16  # constant inputs up to this many elements are copied into `args`


def is_tf_spec(spec: str) -> bool:
    """Cheap test, without importing TensorFlow: does SPEC name a TF/Keras model?"""
    path = Path(spec)
    if spec.lower().endswith(KERAS_SUFFIXES):
        return True
    if path.is_dir():
        return (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file()
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr.isidentifier():
        return False
    source = _module_source(target)
    return source is not None and _mentions_tf(source)


def _module_source(target: str) -> str | None:
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target)
    else:
        try:
            found = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            return None
        path = Path(found.origin) if found and found.origin and found.origin.endswith(".py") else None
    if path is None or not path.is_file():
        return None
    return path.read_text(encoding="utf-8", errors="replace")


def _mentions_tf(source: str) -> bool:
    imports = set(re.findall(r"^\s*(?:import|from)\s+(\w+)", source, flags=re.M))
    return bool(imports & {"tensorflow", "keras", "tf_keras"}) and "torch" not in imports


# --- loading ---------------------------------------------------------------------------------------

def load_concrete_function(spec: str):
    """(ConcreteFunction, the object owning its variables or None) for SPEC. UsageError for a missing file, LoadError for
    anything unusable."""
    path = Path(spec)
    if spec.lower().endswith(KERAS_SUFFIXES):
        if not os.path.lexists(path):
            raise UsageError(f"{spec}: no such file")
        _check_keras_file(path)
        import keras

        try:
            made = keras.models.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:  # noqa: BLE001 - any load failure is the user's file
            raise LoadError(f"{spec}: cannot load Keras model: {type(exc).__name__}: {_first_line(exc)}") from None
    elif path.is_dir():
        import tensorflow as tf

        try:
            made = tf.saved_model.load(str(path))
        except Exception as exc:  # noqa: BLE001
            raise LoadError(f"{spec}: cannot load SavedModel: {type(exc).__name__}: {_first_line(exc)}") from None
        signatures = getattr(made, "signatures", {}) or {}
        if not signatures:
            raise LoadError(f"{spec}: the SavedModel has no serving signature")
        fn = signatures.get("serving_default") or next(iter(signatures.values()))
        return fn, made
    else:
        from exportlint.capture.spec import call_factory

        made, _ = call_factory(spec)
    return to_concrete_function(made, spec)


def _check_keras_file(path: Path) -> None:
    """LoadError before Keras sees a file that is not one (Keras would say "File not found")."""
    import zipfile

    check_regular_file(path)
    if path.suffix.lower() == ".keras" and not zipfile.is_zipfile(path):
        raise LoadError(f"{path}: not a Keras archive (a .keras file is a zip file)")
    if path.suffix.lower() == ".h5":
        with path.open("rb") as fh:
            if fh.read(8) != b"\x89HDF\r\n\x1a\n":
                raise LoadError(f"{path}: not an HDF5 file")


def to_concrete_function(made: Any, name: str):
    """(ConcreteFunction, the keras model or tf.Module owning its variables, or None) for a keras.Model, a
    tf.function or ConcreteFunction, or a tf.Module whose `__call__` is a tf.function with an input
    signature (what SavedModel export takes)."""
    import tensorflow as tf
    from tensorflow.python.eager.polymorphic_function.concrete_function import ConcreteFunction

    if isinstance(made, ConcreteFunction):
        return made, None
    if isinstance(made, tf.types.experimental.PolymorphicFunction):
        if made.input_signature is None:
            raise LoadError(f"{name}: the tf.function has no input_signature; give one to capture it")
        return made.get_concrete_function(), None
    call = getattr(made, "__call__", None)
    if isinstance(made, tf.Module) and isinstance(call, tf.types.experimental.PolymorphicFunction):
        if call.input_signature is None:
            raise LoadError(f"{name}: {type(made).__name__}.__call__ is a tf.function without input_signature; "
                            "give one to capture it")
        return call.get_concrete_function(), made
    if isinstance(made, tf.keras.Model) or type(made).__module__.startswith(("keras", "tf_keras")):
        try:
            inputs = made.inputs
        except (AttributeError, ValueError):
            inputs = None
        if not inputs:
            raise LoadError(f"{name}: the Keras model has no known input shape; build it or start with keras.Input")
        specs = [tf.TensorSpec(tuple(i.shape), i.dtype, name=f"input_{n}") for n, i in enumerate(inputs)]
        single = len(specs) == 1

        @tf.function(input_signature=specs)
        def serve(*xs):
            return made(xs[0] if single else list(xs), training=False)

        return serve.get_concrete_function(), made
    raise LoadError(f"{name}: expected a keras.Model, a tf.function, a ConcreteFunction or a tf.Module whose "
                    f"__call__ is a tf.function with an input signature, got {type(made).__name__}")


def _locate(op: tf.Operation) -> tuple[Location | None, tuple[Location, ...]]:
    """(innermost user frame, user frames outermost first) of the op's creation traceback."""
    return locate(Frame(f.filename, f.lineno) for f in (op.traceback or ()))


# --- the graph walk --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Layer:
    name: str
    type: str


@dataclass(frozen=True)
class TFSource:
    """`graph.source` of a TF capture: the ConcreteFunction, and the Keras model or tf.Module owning its
    variables, kept alive with it (a ConcreteFunction holds its variables weakly)."""

    fn: Any
    owner: Any = None


def capture_tf(spec: str, options: Options | None = None) -> OpGraph:
    """The OpGraph of a TF/Keras SPEC; `graph.source` is a `TFSource`."""
    fn, owner = load_concrete_function(spec)
    return capture_concrete_function(fn, spec, owner)


def capture_concrete_function(fn, name: str, owner: Any = None) -> OpGraph:
    """`owner`: the Keras model (its layers name the ops) or tf.Module the function belongs to."""
    graph = OpGraph(name, "tf", CaptureInfo(method="tf.function"), source=TFSource(fn, owner))
    walker = _Walker(graph, _layers(owner), getattr(owner, "name", None))
    fg = fn.graph
    captured = {id(t) for t in fg.internal_captures}
    for tensor in fg.inputs:
        if id(tensor) in captured:
            continue
        node = f"input:{tensor.op.name}"
        graph.add_node(OpNode(name=node, op="input", dialect="tf", kind=NodeKind.INPUT,
                              outputs=(tensor_meta(tensor),)))
        walker.producer[tensor.ref()] = node
    walker.walk(fg, prefix="", caller=None)
    for index, tensor in enumerate(fg.outputs):
        node = f"output:{index}"
        graph.add_node(OpNode(name=node, op="output", dialect="tf", kind=NodeKind.OUTPUT,
                              inputs=(tensor_meta(tensor),)))
        walker.connect(tensor, node, 0)
    return graph


@dataclass(frozen=True)
class _Located:
    """Where a call op was made: inlined ops without a user frame of their own inherit it."""

    location: Location | None
    stack: tuple[Location, ...]


class _Walker:
    def __init__(self, graph: OpGraph, layers: dict[str, _Layer], model_name: str | None):
        self.graph = graph
        self.layers = layers
        self.model_name = model_name
        self.producer: dict[Any, str | None] = {}  # tensor ref -> IR node (None: a constant)
        self.alias: dict[Any, Any] = {}  # pass-through output ref -> source tensor
        self.consts: dict[Any, Any] = {}  # tensor ref -> small constant value

    def walk(self, fg, prefix: str, caller: _Located | None) -> None:
        for op in fg.get_operations():
            if op.type == "Placeholder":
                continue  # inputs and captures are bound by the caller
            if op.type in CONSTANT_LIKE:
                for out in op.outputs:
                    self.producer[out.ref()] = None
                if op.type == "Const":
                    self._remember_const(op)
                continue
            if op.type in PASS_THROUGH:
                for src, out in zip(op.inputs, op.outputs):
                    self.alias[out.ref()] = src
                continue
            if op.type in CALLS:
                self._inline(op, prefix, caller)
                continue
            self._add_op(op, prefix, caller)
            self._walk_bodies(op, prefix, caller)

    def _walk_bodies(self, op, prefix: str, caller: _Located | None) -> None:
        """The functions a control-flow op runs (While `cond`/`body`, If/Case branches, ...): their ops are
        converted too, so they are nodes too (their inputs bound to nothing: the loop carries them)."""
        located = caller if caller is not None else _Located(*_locate(op))
        for key, value in op.node_def.attr.items():
            names = [value.func.name] if value.HasField("func") else [f.name for f in value.list.func]
            for name in names:
                body = op.graph._get_function(name)
                if body is not None:
                    self.walk(body.graph, f"{prefix}{op.name}/{key}/", located)

    def _inline(self, op, prefix: str, caller: _Located | None) -> None:
        body = op.graph._get_function(op.get_attr("f").name)
        if body is None:
            self._add_op(op, prefix, caller)
            return
        inner = body.graph
        for formal, actual in zip(inner.inputs, op.inputs):
            self.alias[formal.ref()] = actual
        located = caller if caller is not None else _Located(*_locate(op))
        self.walk(inner, f"{prefix}{op.name}/", located)
        for out, inner_out in zip(op.outputs, inner.outputs):
            self.alias[out.ref()] = inner_out

    def _add_op(self, op, prefix: str, caller: _Located | None) -> None:
        location, stack = _locate(op)
        if location is None and caller is not None:
            location, stack = caller.location, caller.stack
        layer = self._layer(op.name)
        args = {k: v for k, v in ((k, _attr(op, k)) for k in op.node_def.attr) if v is not None}
        for index, tensor in enumerate(op.inputs):
            value = self.consts.get(self._resolve(tensor).ref())
            if value is not None:
                args[f"input{index}"] = value
        node = OpNode(
            name=f"{prefix}{op.name}",
            op=f"tf.{op.type}",
            dialect="tf",
            args=args,
            inputs=tuple(tensor_meta(t) for t in op.inputs),
            outputs=tuple(tensor_meta(t) for t in op.outputs),
            module=layer.name if layer else None,
            module_type=layer.type if layer else None,
            location=location,
            stack=stack,
        )
        self.graph.add_node(node)
        for index, tensor in enumerate(op.inputs):
            self.connect(tensor, node.name, index)
        for out in op.outputs:
            self.producer[out.ref()] = node.name

    def connect(self, tensor, dst: str, index: int) -> None:
        src = self.producer.get(self._resolve(tensor).ref())
        if src is not None:
            self.graph.add_edge(src, dst, tensor_meta(tensor), index)

    def _resolve(self, tensor):
        while tensor.ref() in self.alias:
            tensor = self.alias[tensor.ref()]
        return tensor

    def _remember_const(self, op) -> None:
        from tensorflow.python.framework import tensor_util

        proto = op.get_attr("value")
        if 0 < len(proto.tensor_shape.dim) and _num_elements(proto) > MAX_CONST_ARG:
            return
        try:
            value = tensor_util.MakeNdarray(proto)
        except (TypeError, ValueError):
            return
        if value.size <= MAX_CONST_ARG and value.dtype.kind in "biuf":
            self.consts[op.outputs[0].ref()] = value.tolist()

    def _layer(self, op_name: str) -> _Layer | None:
        """The innermost Keras layer named in the op's name scope. A model traced again gets every scope
        suffixed with `_N` (`MobileNetV3Small_1/conv_1` for layer `conv`): seen on the root scope."""
        parts = op_name.split("/")[:-1]
        suffixed = bool(parts) and self.model_name is not None and parts[0] != self.model_name
        found = None
        for part in parts:
            stripped = re.sub(r"_\d+$", "", part)
            for name in (stripped, part) if suffixed else (part, stripped):
                if name in self.layers:
                    found = self.layers[name]
                    break
        return found


def _layers(model: Any) -> dict[str, _Layer]:
    if model is None:
        return {}
    out: dict[str, _Layer] = {}
    stack = list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop()
        cls = type(layer)
        out.setdefault(layer.name, _Layer(layer.name, f"{cls.__module__}.{cls.__qualname__}"))
        stack.extend(getattr(layer, "layers", []) or [])
    return out


def _num_elements(proto) -> int:
    n = 1
    for d in proto.tensor_shape.dim:
        n *= max(d.size, 0)
    return n


def tensor_meta(tensor) -> TensorMeta:
    dtype = tensor.dtype.name if tensor.dtype is not None else None
    shape = tensor.shape
    dims = None if shape.rank is None else tuple("?" if d is None else d for d in shape.as_list())
    return TensorMeta(dtype=dtype, shape=dims)


def _attr(op, key: str) -> Any:
    """A node attribute as plain data; dtypes by name; functions and shapes summarised."""
    import tensorflow as tf

    if key.startswith("_"):
        return None
    value = op.get_attr(key)
    if isinstance(value, tf.dtypes.DType):
        return value.name
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [v.name if isinstance(v, tf.dtypes.DType) else
                v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value
                if isinstance(v, (bool, int, float, str, bytes, tf.dtypes.DType))]
    if hasattr(value, "name") and type(value).__name__ == "NameAttrList":
        return f"<function {value.name}>"
    if isinstance(value, tf.TensorShape) or type(value).__name__ == "TensorShapeProto":
        return str(value)
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
