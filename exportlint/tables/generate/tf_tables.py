"""TF-dialect tables `tf-tflite.json`, `tf-coreml.json`, `tf-onnx.json` from the installed converters.

Registry facts (no probe needed): coremltools' TF frontend registry `_TF_OPS_REGISTRY` and tf2onnx's
handlers per opset (`tf2onnx.handler.tf_op.get_opsets()`) give "unverified" claims.
With `--probe`, every op type that occurs in a corpus of real models (keras.applications, tf.functions
with single ops) is cut out with its real attributes, input dtypes/shapes and constant inputs into a
one-op graph, which is converted with the real TFLiteConverter (builtins only, then with SELECT_TF_OPS),
coremltools (per deployment target) and tf2onnx (per opset). A probe result replaces the registry claim.

`tflite:gpu` cannot be probed here (no GPU, and the TFLite analyzer calls everything compatible): an op
is GPU-compatible when it converts to builtins and every TFLite op it becomes is one the GPU delegate's
compatibility checks accept (`GPU_COMPATIBLE`, LiteRT `gpu_compatibility.cc`, evidence "docs").
"""

from __future__ import annotations

import datetime
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from exportlint.capture.tensorflow import CALLS, CONSTANT_LIKE, PASS_THROUGH
from exportlint.family import family
from exportlint.tables.generate import write_table

GENERATOR = "exportlint.tables.generate.tf_tables"
GENERATOR_VERSION = 1
COREML_TARGETS = family("coreml").versions
ONNX_OPSETS = family("onnx").versions
# Opsets probed with tf2onnx (the others take the nearest earlier probed result): where tf2onnx's
# handlers change for common ops (Resize 11, Split/Squeeze/Reduce* 13, LayerNorm-era 17, 18).
ONNX_PROBE_OPSETS = ("9", "11", "13", "17", "18")

# TFLite builtin ops accepted by the GPU delegate, with the condition its check enforces (empty: none).
# Source: google-ai-edge/LiteRT tflite/tools/versioning/gpu_compatibility.cc at f67457790c9c.
GPU_SOURCE = ("https://github.com/google-ai-edge/LiteRT/blob/f67457790c9c2ab67347d6fe53270e8d3df20868/"
              "tflite/tools/versioning/gpu_compatibility.cc")
GPU_COMPATIBLE: dict[str, str] = {
    **{op: "" for op in (
        "ABS ATAN2 AVERAGE_POOL_2D BATCH_MATMUL CAST CEIL CONCATENATION CONV_2D COS CUMSUM DENSIFY "
        "DEPTHWISE_CONV_2D DEPTH_TO_SPACE DIV DYNAMIC_UPDATE_SLICE ELU EMBEDDING_LOOKUP EQUAL EXP FLOOR "
        "FLOOR_DIV FLOOR_MOD GELU GREATER GREATER_EQUAL HARD_SWISH LEAKY_RELU LESS LESS_EQUAL LOG "
        "LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC MAXIMUM MAX_POOL_2D MEAN MINIMUM MIRROR_PAD NEG "
        "NOT_EQUAL ONE_HOT PACK PAD PADV2 POW PRELU QUANTIZE REDUCE_ALL REDUCE_ANY REDUCE_MAX REDUCE_MIN "
        "REDUCE_PROD RELU RELU6 RELU_N1_TO_1 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR REVERSE_V2 "
        "RIGHT_SHIFT ROUND RSQRT SELECT SELECT_V2 SIGN SIN SLICE SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE "
        "SQUARED_DIFFERENCE STABLEHLO_CLAMP STABLEHLO_REMAINDER STABLEHLO_SHIFT_LEFT SUB SUM TANH TILE "
        "TOPK_V2 TRANSPOSE TRANSPOSE_CONV").split()},
    "ADD": "two input tensors",
    "ADD_N": "exactly 2 inputs",
    "BITCAST": "shapes match in all but the last dim",
    "DEQUANTIZE": "supported dequantization types only",
    "FULLY_CONNECTED": "at least 1 input and 1 output",
    "GATHER": "1-D int32 indices only",
    "LSTM": "no cell_clip / proj_clip",
    "MUL": "two input tensors",
    "SOFTMAX": "beta == 1",
    "STRIDED_SLICE": "4 inputs",
}


# TF ops the TFLiteConverter fuses with their neighbours into one builtin: alone they fail, inside the
# composite they convert. Op type -> corpus model holding the composite.
TFLITE_FUSED = {"Erfc": "gelu_exact"}  # tf.nn.gelu(approximate=False) -> GELU


# --- the probe corpus ------------------------------------------------------------------------------

def _single_ops() -> dict[str, tuple[Callable, list]]:
    """tf.functions with one risky or common op each: (function, input specs)."""
    import tensorflow as tf

    f32 = tf.float32
    img = [tf.TensorSpec([1, 8, 8, 4], f32)]
    vec = [tf.TensorSpec([4, 8], f32)]
    return {
        "rfft": (lambda x: tf.abs(tf.signal.rfft(x)), vec),
        "inv": (lambda x: tf.linalg.inv(x), [tf.TensorSpec([2, 4, 4], f32)]),
        "unique": (lambda x: tf.unique(x)[0], [tf.TensorSpec([8], tf.int32)]),
        "resize_bicubic": (lambda x: tf.image.resize(x, [16, 16], method="bicubic"), img),
        "resize_bilinear": (lambda x: tf.image.resize(x, [16, 16], method="bilinear"), img),
        "resize_nearest": (lambda x: tf.image.resize(x, [16, 16], method="nearest"), img),
        "gelu_exact": (lambda x: tf.nn.gelu(x, approximate=False), vec),
        "gelu_tanh": (lambda x: tf.nn.gelu(x, approximate=True), vec),
        "erf": (lambda x: tf.math.erf(x), vec),
        "matmul": (lambda x: tf.matmul(x, tf.ones([8, 3])), vec),
        "batch_matmul": (lambda x: tf.matmul(x, x, transpose_b=True), [tf.TensorSpec([2, 4, 8], f32)]),
        "einsum": (lambda x: tf.einsum("bij,bkj->bik", x, x), [tf.TensorSpec([2, 4, 8], f32)]),
        "conv_transpose": (lambda x: tf.nn.conv2d_transpose(x, tf.ones([3, 3, 2, 4]), [1, 16, 16, 2], 2), img),
        "max_pool": (lambda x: tf.nn.max_pool2d(x, 2, 2, "VALID"), img),
        "avg_pool": (lambda x: tf.nn.avg_pool2d(x, 2, 2, "SAME"), img),
        "top_k": (lambda x: tf.math.top_k(x, 3).values, vec),
        "argmax": (lambda x: tf.argmax(x, axis=-1), vec),
        "gather": (lambda x: tf.gather(x, [0, 2], axis=1), vec),
        "gather_nd": (lambda x: tf.gather_nd(x, [[0, 1], [2, 3]]), vec),
        "cumsum": (lambda x: tf.cumsum(x, axis=1), vec),
        "where": (lambda x: tf.where(x > 0, x, -x), vec),
        "nonzero": (lambda x: tf.where(x > 0), vec),
        "tile": (lambda x: tf.tile(x, [2, 1]), vec),
        "concat_split": (lambda x: tf.concat(tf.split(x, 2, axis=1)[::-1], axis=0), vec),
        "transpose": (lambda x: tf.transpose(x), vec),
        "activations": (lambda x: tf.nn.elu(tf.nn.leaky_relu(tf.nn.softplus(tf.tanh(tf.sigmoid(x))))), vec),
        "math": (lambda x: tf.sqrt(tf.abs(x)) + tf.exp(x) * tf.math.log1p(tf.square(x)) - tf.pow(x, 3.0), vec),
        "rounding": (lambda x: tf.floor(x) + tf.round(x) + tf.sign(x) + tf.math.ceil(x), vec),
        "trig": (lambda x: tf.sin(x) + tf.cos(x) + tf.math.atan2(x, x + 1.0), vec),
        "reductions": (lambda x: tf.reduce_max(x, 1) + tf.reduce_min(x, 1) + tf.reduce_sum(x, 1)
                       + tf.reduce_prod(x, 1) + tf.reduce_mean(x, 1), vec),
        "one_hot": (lambda x: tf.one_hot(x, 5), [tf.TensorSpec([4], tf.int32)]),
        "float64": (lambda x: tf.cast(tf.cast(x, tf.float64) * 2.0, tf.float32), vec),
        "log_softmax": (lambda x: tf.nn.log_softmax(x), vec),
        "sort": (lambda x: tf.sort(x, axis=-1), vec),
        "mirror_pad": (lambda x: tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT"), img),
        "depth_to_space": (lambda x: tf.nn.depth_to_space(x, 2), img),
        "space_to_depth": (lambda x: tf.nn.space_to_depth(x, 2), img),
        "reverse": (lambda x: tf.reverse(x, [1]), vec),
        "squared_difference": (lambda x: tf.math.squared_difference(x, 1.0), vec),
        "l2_normalize": (lambda x: tf.math.l2_normalize(x, axis=1), vec),
        "clip": (lambda x: tf.clip_by_value(x, 0.0, 1.0), vec),
        "hard_sigmoid": (lambda x: tf.keras.activations.hard_sigmoid(x), vec),
        "range": (lambda x: x * tf.cast(tf.range(tf.shape(x)[1]), tf.float32), vec),
    }


def _keras_models() -> dict[str, Callable[[], Any]]:
    import keras

    apps = keras.applications
    return {
        "MobileNetV3Small": lambda: apps.MobileNetV3Small(weights=None, input_shape=(96, 96, 3)),
        "ResNet50": lambda: apps.ResNet50(weights=None, input_shape=(64, 64, 3)),
        "EfficientNetB0": lambda: apps.EfficientNetB0(weights=None, input_shape=(64, 64, 3)),
    }


def corpus() -> Iterator[tuple[str, Any]]:
    """(name, ConcreteFunction) of every model whose ops are probed."""
    import tensorflow as tf

    from exportlint.capture.tensorflow import to_concrete_function

    for name, (fn, specs) in _single_ops().items():
        yield name, tf.function(fn, input_signature=specs).get_concrete_function()
    for name, build in _keras_models().items():
        yield name, to_concrete_function(build(), name)[0]


def iter_ops(graph) -> Iterator[Any]:
    """Real operators of a FuncGraph, nested calls inlined (the same ops `capture_tf` keeps)."""
    for op in graph.get_operations():
        if op.type == "Placeholder" or op.type in CONSTANT_LIKE or op.type in PASS_THROUGH:
            continue
        if op.type in CALLS:
            yield from iter_ops(op.graph._get_function(op.get_attr("f").name).graph)
            continue
        yield op


# --- converting ------------------------------------------------------------------------------------

@dataclass
class Outcome:
    ok: bool
    reason: str = ""
    produced: list[str] = field(default_factory=list)  # target ops the conversion produced


def convert_tflite(fn, select: bool) -> Outcome:
    """Convert with the real TFLiteConverter; `produced` = the flatbuffer's op codes (builtin names,
    or `Flex<Op>` / custom names)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + (
        [tf.lite.OpsSet.SELECT_TF_OPS] if select else [])
    try:
        flatbuffer = converter.convert()
    except Exception as exc:  # noqa: BLE001 - the converter's failure is the verdict
        return Outcome(False, tflite_reason(str(exc)))
    return Outcome(True, produced=tflite_op_names(flatbuffer))


def tflite_reason(message: str) -> str:
    for pattern in (r"TF Select ops: [^\n]+", r"Flex ops: [^\n]+", r"'tf\.\w+' op [^\n]+",
                    r"error: [^\n]+"):
        match = re.search(pattern, message)
        if match:
            return match.group(0).strip()
    return message.strip().splitlines()[0] if message.strip() else "conversion failed"


def tflite_unsupported_ops(message: str) -> set[str]:
    """TF op types the converter names as not convertible to builtins (`tf.Unique(...)` details lines)."""
    return set(re.findall(r"^\s*tf\.(\w+)\(", message, flags=re.M)) | {
        m for line in re.findall(r"(?:TF Select ops|Flex ops): ([^\n]+)", message)
        for m in re.split(r",\s*", line.replace("Flex", ""))}


def tflite_op_names(flatbuffer: bytes) -> list[str]:
    """The op codes of a .tflite flatbuffer, custom ops (Flex...) by their own names."""
    from exportlint.tables.probe.litert import read_tflite

    return sorted({op.removeprefix("CUSTOM:") for op in read_tflite(flatbuffer)[0]})


def convert_coreml(fn, target: str) -> Outcome:
    import coremltools as ct

    try:
        ct.convert([fn], source="tensorflow", convert_to="mlprogram",
                   minimum_deployment_target=getattr(ct.target, target), skip_model_load=True)
    except Exception as exc:  # noqa: BLE001
        return Outcome(False, _first_line(exc))
    return Outcome(True)


def coreml_unsupported_op(reason: str) -> str | None:
    match = re.search(r"Conversion for TF op '(\w+)' not implemented", reason)
    return match.group(1) if match else None


def convert_onnx(fn, opset: int) -> Outcome:
    """tf2onnx conversion; it does not raise for unknown ops but leaves them in the graph, so ops that
    are not ONNX schemas (or need an extension domain) make the outcome a failure."""
    import onnx

    try:
        model = tf2onnx_model(fn, opset)
    except Exception as exc:  # noqa: BLE001
        return Outcome(False, _first_line(exc))
    produced = sorted({f"{n.domain or 'ai.onnx'}::{n.op_type}" for n in model.graph.node})
    bad = [n.op_type for n in model.graph.node if not onnx.defs.has(n.op_type, n.domain)]
    if bad:
        return Outcome(False, f"tf2onnx has no handler for {', '.join(sorted(set(bad)))}", produced)
    return Outcome(True, produced=produced)


def tf2onnx_model(fn, opset: int):
    """The ModelProto tf2onnx makes of the frozen ConcreteFunction `fn` at `opset` (what
    `tf2onnx.convert.from_function` does); its errors raise."""
    import tf2onnx
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = convert_variables_to_constants_v2(fn)
    logging.getLogger("tf2onnx").setLevel(logging.CRITICAL)
    model, _ = tf2onnx.convert.from_graph_def(frozen.graph.as_graph_def(), input_names=[t.name for t in frozen.inputs],
                                              output_names=[t.name for t in frozen.outputs], opset=opset)
    return model


def onnx_unsupported_ops(outcome: Outcome) -> set[str]:
    match = re.match(r"tf2onnx has no handler for (.+)", outcome.reason)
    return set(match.group(1).split(", ")) if match else set()


# --- one-op models ---------------------------------------------------------------------------------

def one_op_function(op, complex_head: str = "ComplexAbs"):
    """A ConcreteFunction running only `op`: non-constant inputs become placeholders (unknown dims 1),
    constant inputs keep their value, variable reads become zeros; complex outputs go through
    `complex_head` (Core ML rejects complex model outputs and lacks ComplexAbs; tf2onnx lacks Real)."""
    import numpy as np
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    feeds = []
    names = []
    for index, tensor in enumerate(op.inputs):
        while tensor.op.type in PASS_THROUGH:
            tensor = tensor.op.inputs[tensor.value_index]
        node = graph_def.node.add()
        node.name = f"probe_in{index}"
        names.append(node.name)
        shape = [1 if d is None else d for d in tensor.shape.as_list()] if tensor.shape.rank is not None else None
        if tensor.op.type == "Const":
            node.op = "Const"
            for key in ("dtype", "value"):
                node.attr[key].CopyFrom(tensor.op.node_def.attr[key])
        elif tensor.op.type == "ReadVariableOp" and shape is not None:
            node.op = "Const"
            node.attr["dtype"].type = tensor.dtype.as_datatype_enum
            node.attr["value"].tensor.CopyFrom(
                tf.make_tensor_proto(np.zeros(shape, tensor.dtype.as_numpy_dtype)))
        else:
            node.op = "Placeholder"
            node.attr["dtype"].type = tensor.dtype.as_datatype_enum
            if shape is not None:
                node.attr["shape"].shape.CopyFrom(tf.TensorShape(shape).as_proto())
            feeds.append(f"{node.name}:0")
    if not feeds and graph_def.node:  # all-constant inputs fold away: feed the first one instead
        first, tensor = graph_def.node[0], op.inputs[0]
        first.op = "Placeholder"
        first.ClearField("attr")
        first.attr["dtype"].type = tensor.dtype.as_datatype_enum
        if tensor.shape.rank is not None:
            first.attr["shape"].shape.CopyFrom(
                tf.TensorShape([1 if d is None else d for d in tensor.shape.as_list()]).as_proto())
        feeds.append(f"{first.name}:0")
    probe = graph_def.node.add()
    probe.CopyFrom(op.node_def)
    probe.name = "probe"
    probe.device = ""
    del probe.input[:]
    probe.input.extend(names)
    fetches = []
    for index, tensor in enumerate(op.outputs):
        if tensor.dtype.is_complex:
            node = graph_def.node.add()
            node.name, node.op = f"probe_head{index}", complex_head
            node.input.append(f"probe:{index}")
            node.attr["T"].type = tensor.dtype.as_datatype_enum
            node.attr["Tout"].type = tensor.dtype.real_dtype.as_datatype_enum
            fetches.append(f"{node.name}:0")
        else:
            fetches.append(f"probe:{index}")
    wrapped = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
    return wrapped.prune(feeds, fetches)


# --- the tables ------------------------------------------------------------------------------------

@dataclass
class ProbeResult:
    op: str  # TF op type
    model: str  # corpus model the instance came from
    tflite: Outcome
    select: Outcome
    coreml: dict[str, Outcome]
    onnx: dict[str, Outcome]
    fused: Outcome | None = None  # builtins conversion of the TFLITE_FUSED composite, if probed


def probe_op(op, model: str) -> ProbeResult:
    try:
        fn = one_op_function(op)
        complex_out = any(t.dtype.is_complex for t in op.outputs)
        coreml_fn = one_op_function(op, "Real") if complex_out else fn
    except Exception as exc:  # noqa: BLE001 - an op that cannot stand alone is reported, not probed
        failed = Outcome(False, f"probe could not be built: {_first_line(exc)}")
        return ProbeResult(op.type, model, failed, failed, {}, {})
    coreml = {}
    for target in (COREML_TARGETS[0], COREML_TARGETS[-1]):
        coreml[target] = convert_coreml(coreml_fn, target)
    if coreml[COREML_TARGETS[0]].ok != coreml[COREML_TARGETS[-1]].ok:
        for target in COREML_TARGETS[1:-1]:
            coreml[target] = convert_coreml(coreml_fn, target)
    onnx = {v: convert_onnx(fn, int(v)) for v in ONNX_PROBE_OPSETS if int(v) <= _tf2onnx_max_opset()}
    return ProbeResult(op.type, model, convert_tflite(fn, False), convert_tflite(fn, True), coreml, onnx)


def _tf2onnx_max_opset() -> int:
    from tf2onnx import constants

    return max(constants.OPSET_TO_IR_VERSION)


def run_probes() -> list[ProbeResult]:
    seen: set[str] = set()
    results = []
    functions = {}
    for name, fn in corpus():
        functions[name] = fn
        for op in iter_ops(fn.graph):
            if op.type in seen:
                continue
            seen.add(op.type)
            results.append(probe_op(op, name))
    for result in results:
        if result.op in TFLITE_FUSED and not result.tflite.ok:
            result.fused = convert_tflite(functions[TFLITE_FUSED[result.op]], False)
    return results


def _entry(status: str, reason: str, evidence: str, **extra: str) -> dict[str, str]:
    return {"status": status, "reason": reason, "evidence": evidence, **{k: v for k, v in extra.items() if v}}


def tflite_entries(result: ProbeResult) -> dict[str, dict[str, str]]:
    probe = f"one-op {result.op} from {result.model}"
    b, s = result.tflite, result.select
    conditions = ""
    if not b.ok and result.fused is not None and result.fused.ok:
        composite = TFLITE_FUSED[result.op]
        probe = f"{composite} (fused into {', '.join(result.fused.produced)})"
        conditions = f"only inside {composite}; a lone {result.op} fails: {b.reason}"
        b = s = result.fused
    entries = {
        "builtins": _entry("supported", f"{probe} -> {', '.join(b.produced)}", "probe", via="builtins",
                           conditions=conditions)
        if b.ok else _failed_entry(b),
        "select": _entry("supported", f"{probe} -> {', '.join(s.produced)}", "probe",
                         via="builtins" if b.ok else "select-tf", conditions=conditions)
        if s.ok else _failed_entry(s),
    }
    if not b.ok:
        entries["gpu"] = _entry("unsupported", "no TFLite builtin: the GPU delegate cannot run it", "probe")
    else:
        missing = [t for t in b.produced if t not in GPU_COMPATIBLE]
        conditions = "; ".join([conditions] * bool(conditions) + [
            f"{t}: {GPU_COMPATIBLE[t]}" for t in b.produced if GPU_COMPATIBLE.get(t)])
        entries["gpu"] = (
            _entry("unsupported", f"TFLite {', '.join(missing)} not accepted by the GPU delegate "
                   "(gpu_compatibility.cc)", "docs")
            if missing else
            _entry("supported", f"becomes {', '.join(b.produced)}, all GPU-compatible", "docs",
                   conditions=conditions))
    return entries


# Failures of the probe harness, not of the op: the op is then as unproven as a registry claim.
# "list index out of range": coremltools' handlers crash (IndexError) on forms of the lone probe that
# real models do not use (Split, TopKV2): a crash, not a missing translation.
INCONCLUSIVE = ("input_names needs to be provided", "Unable to determine the shape of input",
                "probe could not be built", "list index out of range")


def _failed_entry(outcome: Outcome, handled: bool = False) -> dict[str, str]:
    """`handled`: the converter's registry has a handler for the op, yet the lone instance stayed
    unconverted (tf2onnx converts e.g. ComplexAbs only inside its RFFT rewrite): inconclusive."""
    if handled or any(p in outcome.reason for p in INCONCLUSIVE):
        return _entry("unverified", f"probe inconclusive: {outcome.reason}", "probe")
    return _entry("unsupported", outcome.reason, "probe")


def per_version(outcomes: dict[str, Outcome], versions: tuple[str, ...], probe: str,
                handled: frozenset[str] = frozenset()) -> dict[str, dict]:
    out = {}
    for version in versions:
        outcome = outcomes.get(version)
        if outcome is None:  # an untested middle version: nearest earlier tested result
            earlier = [v for v in versions[: versions.index(version)] if v in outcomes]
            outcome = outcomes[earlier[-1]] if earlier else None
        if outcome is None:
            continue
        out[version] = (_entry("supported", probe, "probe") if outcome.ok
                        else _failed_entry(outcome, version in handled and "no handler" in outcome.reason))
    return _collapse(out)


def _collapse(entries: dict[str, dict]) -> dict[str, dict]:
    """Write `*` for the most common entry, keep only versions that differ from it."""
    if not entries:
        return {}
    values = [json.dumps(e, sort_keys=True) for e in entries.values()]
    common = max(set(values), key=values.count)
    out = {"*": json.loads(common)}
    out.update({k: e for k, e, v in zip(entries, entries.values(), values) if v != common})
    return out


def coreml_registry() -> dict[str, dict]:
    from coremltools.converters.mil.frontend.tensorflow.tf_op_registry import _TF_OPS_REGISTRY

    return {f"tf.{name}": {"*": _entry("unverified", "in coremltools' TF frontend registry", "registry")}
            for name in _TF_OPS_REGISTRY}


def onnx_registry() -> dict[str, dict]:
    import tf2onnx.tfonnx  # noqa: F401 - registers the handlers
    from tf2onnx.handler import tf_op

    handlers = tf_op.get_opsets()[""]
    since: dict[str, int] = {}
    for opset, table in enumerate(handlers):
        for name in table:
            since.setdefault(name, opset)
    out = {}
    for name, first in since.items():
        entries = {v: (_entry("unverified", f"tf2onnx handler since opset {first}", "registry")
                       if int(v) >= first else
                       _entry("unsupported", f"tf2onnx handler needs opset {first}", "registry"))
                   for v in ONNX_OPSETS}
        out[f"tf.{name}"] = _collapse(entries)
    return out


def _provenance(sources: list[str], probes: list[ProbeResult]) -> dict[str, Any]:
    from importlib.metadata import version

    libraries = {}
    for package in ("tensorflow-cpu", "tensorflow", "keras", "coremltools", "tf2onnx", "onnx"):
        try:
            libraries[package] = version(package)
        except Exception:  # noqa: BLE001 - not installed
            continue
    return {"generator": GENERATOR, "generator_version": GENERATOR_VERSION,
            "generated": datetime.date.today().isoformat(), "libraries": libraries, "sources": sources,
            "probed_ops": len(probes), "probe_corpus": sorted({p.model for p in probes})}


def build_tables(probes: list[ProbeResult]) -> dict[str, dict[str, Any]]:
    tflite_ops = {f"tf.{p.op}": tflite_entries(p) for p in probes}
    coreml_ops = coreml_registry()
    onnx_ops = onnx_registry()
    for p in probes:
        probe = f"one-op {p.op} from {p.model} converted"
        if p.coreml:
            coreml_ops[f"tf.{p.op}"] = per_version(p.coreml, COREML_TARGETS, probe)
        if p.onnx:
            key = f"tf.{p.op}"
            claims = onnx_ops.get(key, {})
            handled = frozenset(v for v in ONNX_OPSETS
                                if claims.get(v, claims.get("*", {})).get("status") == "unverified")
            entries = per_version(p.onnx, ONNX_OPSETS, probe, handled)
            top = entries.get(max(p.onnx, key=int), entries["*"])
            for v in ONNX_OPSETS:  # above tf2onnx's highest opset: as at its highest
                if int(v) > int(max(p.onnx, key=int)) and top != entries["*"]:
                    entries[v] = top
            onnx_ops[key] = entries
    gpu_note = f"GPU delegate rules: {GPU_SOURCE}"
    return {
        "tflite": {"versions": list(family("tflite").versions), "ops": tflite_ops,
                   "sources": ["tf.lite.TFLiteConverter probes", gpu_note],
                   "dtypes": {"*": {"float64": _entry("unsupported", "TFLite builtins have no float64 kernels for "
                                                       "most ops", "docs")}}},
        "coreml": {"versions": list(COREML_TARGETS), "ops": coreml_ops,
                   "sources": ["coremltools.converters.mil.frontend.tensorflow.tf_op_registry._TF_OPS_REGISTRY",
                               "coremltools.convert probes"],
                   "dtypes": {"*": {d: _entry("narrowed", f"Core ML has no {d}: cast to {n}", "docs")
                                    for d, n in (("float64", "float32"), ("int64", "int32"))}}},
        "onnx": {"versions": list(ONNX_OPSETS), "ops": onnx_ops,
                 "sources": ["tf2onnx.handler.tf_op.get_opsets()", "tf2onnx.convert.from_graph_def probes"]},
    }


def generate(out_dir: Path, probe: bool) -> list[Path]:
    probes = run_probes() if probe else _previous_probes(out_dir)
    written = []
    for name, table in build_tables(probes).items():
        sources = table.pop("sources")
        document = {"schema_version": 1, "dialect": "tf", "family": name, "versions": table.pop("versions"),
                    "provenance": _provenance(sources, probes), **table}
        written.append(write_table(Path(out_dir), document))
    _save_probes(out_dir, probes)
    return written


# Probe outcomes are kept beside the tables (`rules/probes/tf-probes.json`) so that a run without --probe
# refreshes registry facts without dropping the probed verdicts.
def _probe_file(out_dir: Path) -> Path:
    return Path(out_dir).parent / "probes" / "tf-probes.json"


def _save_probes(out_dir: Path, probes: list[ProbeResult]) -> None:
    from dataclasses import asdict

    path = _probe_file(out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(p) for p in probes], indent=1) + "\n", encoding="utf-8")


def _previous_probes(out_dir: Path) -> list[ProbeResult]:
    path = _probe_file(out_dir)
    if not path.is_file():
        return []
    results = []
    for raw in json.loads(path.read_text(encoding="utf-8")):
        results.append(ProbeResult(
            op=raw["op"], model=raw["model"], tflite=Outcome(**raw["tflite"]), select=Outcome(**raw["select"]),
            coreml={k: Outcome(**v) for k, v in raw["coreml"].items()},
            onnx={k: Outcome(**v) for k, v in raw["onnx"].items()},
            fused=Outcome(**raw["fused"]) if raw.get("fused") else None))
    return results


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
