"""TFLite / LiteRT: `litert_torch.convert`, the ops the flatbuffer needs, a run in the LiteRT
interpreter; for `tflite:gpu` the GPU-delegate rules on the converted nodes (an estimate, no device).

Precision `tflite+int8`: litert-torch's PT2E quantizer (static int8, per-channel weights), `litert_torch.convert`
with its `QuantConfig`, the int8 ops read from the flatbuffer and the model run in the LiteRT interpreter.
"""

from __future__ import annotations

from typing import Any

from exportlint.family import EXPORT_GRAPH, ConversionPath, Family, Precision

INT8 = Precision(
    "int8", ("builtins",), "prepare_pt2e/convert_pt2e with litert_torch.quantize's PT2EQuantizer("
    "get_symmetric_quantization_config(is_per_channel=True)), then litert_torch.convert(quant_config=QuantConfig("
    "pt2e_quantizer=...)), run in the LiteRT interpreter", "aten-tflite-int8",
    ("torch", "litert-torch", "ai-edge-litert", "torchao"))


class TFLite(Family):
    name = "tflite"
    title = "TFLite (LiteRT)"
    # Not versions but capability levels: builtins ⊂ builtins+select-TF; gpu is a delegate on builtins.
    versions = ("builtins", "select", "gpu")
    default = "builtins"
    ordered = False
    paths = (ConversionPath("litert", EXPORT_GRAPH, "litert_torch.convert"),)
    libraries = ("torch", "litert-torch", "ai-edge-litert")
    generators = ("aten_tflite",)
    static_shapes = {"gpu": "the TFLite GPU delegate needs static shapes and leaves the model to the CPU; "
                            "convert one model per size"}
    fp16 = {"gpu": "run the GPU delegate at full precision (inference_priority1 = "
                   "TFLITE_GPU_INFERENCE_PRIORITY_MAX_PRECISION, is_precision_loss_allowed = 0)"}
    docs = ("`litert_torch.convert`, the ops the flatbuffer needs, then a run in the LiteRT interpreter; "
            "`tflite:gpu` applies the GPU delegate's rules to the converted nodes (an estimate, no device).")
    precisions = {"int8": INT8}

    @classmethod
    def target_text(cls, version: str) -> str:
        return "tflite" if version == "builtins" else f"tflite:{version}"

    @classmethod
    def runner(cls, path: str):
        return _convert if path == "litert" else None


def _convert(subject, target) -> tuple[bool, str]:
    import litert_torch

    from exportlint.tables.probe.litert import gpu_blockers, read_tflite

    edge = litert_torch.convert(subject.model, subject.inputs)
    ops, nodes = read_tflite(edge.model_content())
    custom = [op.removeprefix("CUSTOM:") for op in ops if op.startswith("CUSTOM:")]
    if target.version == "select":
        custom = [op for op in custom if not op.startswith("Flex")]
    if custom:
        return False, f"litert_torch.convert needs ops outside {target}: {', '.join(custom)}"
    if target.version != "select":  # no flex delegate here to run select-TF ops
        _run_litert(edge.model_content(), subject.inputs)
    if target.version == "gpu":
        blockers = gpu_blockers(nodes)
        if blockers:
            return False, "GPU delegate would not take: " + "; ".join(blockers[:3]) + " (estimate, no device)"
        return True, f"litert_torch.convert: all {len(nodes)} nodes fit the GPU delegate (estimate, no device)"
    return True, f"litert_torch.convert: {len(nodes)} nodes, {len(ops)} op kinds"


def _run_litert(content: bytes, inputs: tuple) -> None:
    """Run the flatbuffer once in the LiteRT interpreter (kernels for every op, and it runs), inputs
    cast to the types it declares (litert-torch makes int64 inputs int32)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    for detail, value in zip(sorted(interpreter.get_input_details(), key=lambda d: d["index"]), inputs):
        interpreter.set_tensor(detail["index"], value.numpy().astype(detail["dtype"]))
    interpreter.invoke()


# --- int8: PT2E static quantization with litert-torch's quantizer ---------------------------------------

NO_ANNOTATION = ("no litert_torch PT2EQuantizer annotator or pattern takes it: no quantize/dequantize around it "
                 "after convert_pt2e")
FLOAT_KERNEL = "the TFLite converter keeps it in float between DEQUANTIZE and QUANTIZE (no int8 form of it)"
_INT_TYPES = ("INT8", "UINT8", "INT16")  # quantized activations
_QDQ_OPS = ("QUANTIZE", "DEQUANTIZE")
AEQ_STATIC_INT8 = "static_wi8_ai8"  # ai-edge-quantizer's int8 weights and activations, as PT2E's
# TFLite ops whose int8 form keeps its input's scale: the SameOperandsAndResultsScale trait in TensorFlow's
# tensorflow/compiler/mlir/lite/ir/tfl_ops.td (read at 1d7abe5b9ab6, the revision the code index holds):
# the converter moves a quantize/dequantize through them
SAME_SCALE = frozenset({"ADD_N", "AVERAGE_POOL_2D", "BATCH_TO_SPACE_ND", "CONCATENATION", "DEPTH_TO_SPACE",
                        "EXPAND_DIMS", "GATHER", "MAXIMUM", "MAX_POOL_2D", "MEAN", "MINIMUM", "PACK", "PAD", "PADV2",
                        "REDUCE_MAX", "REDUCE_MIN", "RELU", "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR",
                        "RESIZE_NEAREST_NEIGHBOR", "SLICE", "SPACE_TO_BATCH_ND", "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V",
                        "SQUEEZE", "STRIDED_SLICE", "TILE", "TOPK_V2", "TRANSPOSE", "UNPACK"})


def quantize_int8(module: Any, inputs: tuple) -> tuple[Any, Any]:
    """PT2E static int8 with litert-torch's quantizer: torch.export, prepare_pt2e, calibrate on `inputs`,
    convert_pt2e (Q/DQ kept for the converter): (the converted module, the quantizer)."""
    import torch
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(torch.export.export(module, inputs).module(), quantizer)
    prepared(*inputs)
    return convert_pt2e(prepared, fold_quantize=False), quantizer


def int8_outcome(module: Any, inputs: tuple) -> tuple[bytes, dict[str, tuple[str, str]]]:
    """Quantize and convert `module` for real: (the .tflite flatbuffer, {name of a node of `torch.export`'s graph:
    ("quantized" | "float", why)}). A node is quantized when every TFLite op made from it computes on int8
    activations (no float32 tensor in or out). Nodes that became no op (folded, or no-ops) are absent. Raises the
    quantizer's or converter's error."""
    import re
    from unittest import mock

    import litert_torch
    import torch
    from litert_torch.quantize.quant_config import QuantConfig

    from exportlint.tables.probe.harness import is_qdq, note_outcome, source_node
    from exportlint.tables.probe.litert import read_operators

    converted, quantizer = quantize_int8(module, inputs)
    annotated = {source_node(n) for n in converted.graph.nodes
                 if any(is_qdq(a, "dequantize") for a in n.all_input_nodes)}
    # the user's nodes (layout ops the converter adds carry the names of the quantizer's own nodes)
    users = {source_node(n) or n.name for n in converted.graph.nodes if n.op == "call_function" and not is_qdq(n)}
    # litert-torch names a tensor after the module path of the node that made it; name it after the user's node
    with mock.patch("litert_torch.backend.debuginfo.build_mlir_debuginfo", lambda n: f"<{source_node(n) or n.name}>"):
        edge = litert_torch.convert(converted, inputs, quant_config=QuantConfig(pt2e_quantizer=quantizer))
    content = edge.model_content()
    _, operators, outputs = read_operators(content)
    # a model output tensor is named after the signature: it comes from the node that ends that output
    ends = []
    for node in torch.utils._pytree.tree_leaves(next(n for n in converted.graph.nodes if n.op == "output").args):
        while is_qdq(node):
            node = node.args[0]
        ends.append(f"<{source_node(node) or node.name}>")
    named = dict(zip(outputs, ends))
    out: dict[str, tuple[str, str]] = {}
    for op in operators:
        runtime = [t.dtype for t in (*op.inputs, *op.outputs) if not t.const]
        if op.op in _QDQ_OPS or not any(d.startswith("FLOAT") or d in _INT_TYPES for d in runtime):
            continue  # the quantizer's own ops; integer or index math
        floating = any(d.startswith("FLOAT") for d in runtime)
        for t in op.outputs:
            for name in users.intersection(re.findall(r"<([^<>]+)>", named.get(t.name, t.name))):
                note_outcome(out, name, "float" if floating else "quantized",
                             (FLOAT_KERNEL if name in annotated else NO_ANNOTATION) if floating else "")
    return content, out


def run_int8(content: bytes, inputs: tuple, expected: list) -> str | None:
    """Run the int8 flatbuffer in the LiteRT interpreter: None when it runs and its outputs have PyTorch's shapes."""
    from exportlint.tables.probe.litert import compare_signature, run_signature

    return compare_signature(expected, run_signature(content, inputs)[0], compare_values=False)


def probe_int8(case: Any) -> Any:
    """One catalogue probe between a quantized producer and consumer (`after_producer`), quantized and converted
    with `int8_outcome`, run in the LiteRT interpreter (shapes compared: int8 changes the numbers). `produced` lists
    the TFLite ops, `fallback["builtins"]` the ATen ops that stayed float, `note` why."""
    from exportlint.tables.probe.harness import quant_probe
    from exportlint.tables.probe.litert import read_tflite

    return quant_probe(case, "builtins", int8_outcome, run_int8,
                       ("quantizing or converting", "running the int8 model in the LiteRT interpreter"),
                       consumer=True, produced=lambda content: read_tflite(content)[0])


def _prepare_int8() -> None:
    import litert_torch  # noqa: F401
    import litert_torch.quantize.pt2e_quantizer  # noqa: F401
    import torchao.quantization.pt2e.quantize_pt2e  # noqa: F401
    from ai_edge_litert.interpreter import Interpreter  # noqa: F401


probe_int8.prepare = _prepare_int8


def _aten_ops_named(*functions: Any) -> list[str]:
    """The ATen overloads a function of the quantizer's source names (`torch.ops.aten.NAME.OVERLOAD`)."""
    import inspect
    import re

    return sorted({f"aten.{m}" for fn in functions
                   for m in re.findall(r"torch\.ops\.aten\.(\w+\.\w+)", inspect.getsource(fn))})


def int8_sources() -> tuple[list[str], dict[str, list[str]]]:
    """From the installed quantizer's source: the ATen ops quantized only after a quantized op (they share its
    qparams, `_is_share_obs_or_fq_op`, unless an annotator of their own takes them (`STATIC_OPS`); and the
    fixed-qparams ops, annotated only when their input is), and batch_norm, which prepare_pt2e folds into the conv
    before it (`_fuse_conv_bn_`: `_is_conv_or_conv_transpose_node`), and relu, which the conv_relu annotator takes
    after a conv."""
    from litert_torch.quantize import pt2e_quantizer_utils as utils
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer
    from torchao.quantization.pt2e import utils as pt2e_utils

    from exportlint.tables.probe.harness import aten_overloads

    shares = [str(op) for op in aten_overloads() if utils._is_share_obs_or_fq_op(op)
              and op.__name__.split(".")[0] not in PT2EQuantizer.STATIC_OPS]
    shares += _aten_ops_named(utils.OP_TO_ANNOTATOR["fixed_qparams"])
    convs = _aten_ops_named(pt2e_utils._is_conv_node, pt2e_utils._is_conv_transpose_node)
    norms = ("aten.batch_norm.default", "aten._native_batch_norm_legit_no_training.default")
    # conv_relu: the relu directly after a conv (after its folded batch_norm, in the captured graph)
    conv_ops = _aten_ops_named(utils.OP_TO_ANNOTATOR["conv"])
    relus = sorted(set(_aten_ops_named(utils.OP_TO_ANNOTATOR["conv_relu"])) - set(conv_ops))
    return sorted(set(shares)), {**dict.fromkeys(norms, convs), **dict.fromkeys(relus, [*conv_ops, *norms])}


def python_call_ops() -> set[str]:
    """The ops litert-torch's quantizer picks by the Python call that made them (`get_source_partitions`: `a + b`,
    `torch.mul`), never by ATen overload: the schema-filled core probes, which call the overload itself, are no
    evidence for them (see `annotated_ops` for which calls torch.export's graph lets it see)."""
    import inspect

    from litert_torch.quantize import pt2e_quantizer_utils as utils
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer

    return {name for name in PT2EQuantizer.STATIC_OPS if "get_source_partitions" in inspect.getsource(
        utils.OP_TO_ANNOTATOR[name]) and not _aten_ops_named(utils.OP_TO_ANNOTATOR[name])}


def annotated_ops() -> tuple[set[str], set[str]]:
    """From the installed quantizer's source, for torch.export's default (non-strict) graph, which has no
    `source_fn_stack`: (the ATen ops an annotator of its own takes wherever they are: by overload (linear, conv,
    addmm), or by what made them, where `get_source_partitions` compares `torch_fn`'s name with the annotator's
    string sources only ("mul", "mul_") and `nn_module_stack`'s module types with its module sources
    (nn.AdaptiveAvgPool2d, whose annotator quantizes the pool's input itself); the ops of the annotators whose
    sources are all functions (`operator.add`, `torch.add`), which take nothing there, and which would give the
    result a scale of its own (no `SharedQuantizationSpec`, unlike cat's): add). Fused patterns (conv_relu) are left
    out: their second op is taken only after the first."""
    import inspect
    import re

    from litert_torch.quantize import pt2e_quantizer_utils as utils
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer

    from exportlint.tables.probe.harness import aten_overloads

    names = PT2EQuantizer.STATIC_OPS
    own: set[str] = set()
    own_scale: set[str] = set()
    for name in names:
        if any(name.startswith(f"{other}_") for other in names):
            continue
        source = inspect.getsource(utils.OP_TO_ANNOTATOR[name])
        if "get_source_partitions" not in source:
            own.update(_aten_ops_named(utils.OP_TO_ANNOTATOR[name]))
            continue
        wanted = re.search(r"get_source_partitions\(\s*gm\.graph,\s*\[([^\]]*)\]", source)
        sources = wanted.group(1) if wanted else ""
        if re.search(r"torch\.nn\.[A-Z]", sources) and "get_input_act_qspec(" in source:
            own.update(_aten_ops_named(utils.OP_TO_ANNOTATOR[name]))  # a module's (nn_module_stack), input and all
            continue
        calls = set(re.findall(r'"(\w+)"', sources))
        # `x += y` is `operator.iadd`, its torch_fn "add_": the in-place twin (aten.add_.Tensor) too
        packets = calls or ({name, f"{name}_"} if "SharedQuantizationSpec" not in source else set())
        ops = {f"aten.{p}.{op._overloadname}" for op in aten_overloads() for p in packets
               if op.__name__.split(".")[0] == p.removesuffix("_")}
        (own if calls else own_scale).update(ops)
    return own, own_scale


def build_int8_table(records: list[Any], probe_meta: dict[str, Any]) -> dict[str, Any]:
    import json

    from ai_edge_quantizer import default_policy
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer

    from exportlint.tables.probe import harness
    from exportlint.tables.probe.catalog import catalog

    shares, folds = int8_sources()
    policy = json.loads(default_policy.DEFAULT_JSON_POLICY)["ops_per_config"][AEQ_STATIC_INT8]

    def stays_float(record: Any, version: str, op: str) -> str:
        # the TFLite ops of the probe but the quantizer's and the producer's and consumer's MUL
        own = sorted(set(record.produced) - {"QUANTIZE", "DEQUANTIZE"} - ({"MUL"} if op != "aten.mul.Tensor" else set()))
        if not own or not set(own) <= set(policy):
            return harness.stays_float(record, version, op)
        return harness.stays_float(record, version, op) + (
            f" (ai-edge-quantizer's default policy quantizes {', '.join(own)} statically ({AEQ_STATIC_INT8}): "
            "quantizing the float .tflite with ai_edge_quantizer would)")

    probes, by_call = catalog(), python_call_ops()
    records = [r for r in records if not (r.name in probes and probes[r.name].origin == "core"
                                          and r.op.split(".")[1] in by_call)]
    probed = harness.merge(records, INT8.versions, "produces")
    harness.mark_fallback(probed, records, INT8.versions, stays_float, exact=True)
    harness.fails_when_fed(probed, records, "builtins")
    own, between = annotated_ops()
    for op in between & set(probed):  # its probes had a model input as second operand: float for that reason
        probed[op] = {v: {"status": "supported", "evidence": "probe", "between_quantized": True,
                          "probe": e.get("probe", ""), "produces": e.get("produces", [])} for v, e in probed[op].items()}
    # no annotator of its own: quantized only where the converter carries a quantize/dequantize through it
    unannotated = [op for op, per in probed.items() if op not in own | between | set(shares) and any(
        e.get("status") == "supported" for entry in per.values() for e in [entry, *entry.get("variants", [])])]
    for op in unannotated:
        for entry in probed[op].values():
            for e in [entry, *entry.get("variants", [])]:
                kinds = set(e.get("produces", [])) - {"MUL", "QUANTIZE", "DEQUANTIZE"}  # less the producer and consumer
                e["same_scale" if kinds and kinds <= SAME_SCALE else "between_quantized"] = True
                if not kinds:  # no TFLite op of its own: fused into the op before it (relu into ADD), or gone
                    e["no_own_op"] = True
    for op in list(probed):  # litert-torch functionalizes first: an in-place op lowers as its functional twin
        name, _, overload = op.removeprefix("aten.").partition(".")
        twin = probed.get(f"aten.{name.removesuffix('_')}.{overload}", {}) if name.endswith("_") else {}
        if any(e.get("no_own_op") for e in twin.values()):
            for entry in probed[op].values():
                entry["no_own_op"] = True
    registry = harness.quant_sources(probed, shares, folds)
    return harness.assemble(
        "tflite-int8", INT8.versions, registry, probed, records, probe_meta, generator=__name__,
        generator_version="1", libraries=INT8.libraries, sources=[
            f"probes: each catalogue op between a quantized producer and consumer (w1 * x, y * w2), {INT8.call}; "
            "a node is quantized when every TFLite op made from it (tensors named after it while converting) computes on int8 activations",
            "registry: litert_torch.quantize.pt2e_quantizer_utils._is_share_obs_or_fq_op less PT2EQuantizer.STATIC_OPS "
            "and the fixed_qparams annotator's ops (shares_input); torchao prepare_pt2e's conv-batch_norm folding "
            "(fuses_after); the schema-filled core probes of ops it annotates by Python call (python_call_ops: "
            f"{', '.join(sorted(by_call))}) are left out",
            "registry: annotated_ops (torch.export's graph has no source_fn_stack: get_source_partitions matches "
            "torch_fn's name against string sources only): a probed op no annotator takes (add's takes nothing "
            "there) is quantized by the converter only between a dequantize and a quantize (between_quantized), or, "
            "where its TFLite ops keep their input's scale (SAME_SCALE: tfl_ops.td's SameOperandsAndResultsScale), "
            "next to one (same_scale); one whose probe made no TFLite op of its own (relu, fused into the op before "
            "it) passes its readers' quantize on (no_own_op), and so does its in-place twin (relu_: litert-torch "
            "functionalizes the program first)",
            f"ai-edge-quantizer {harness.library_versions('ai-edge-quantizer').get('ai-edge-quantizer')} "
            f"default_policy.DEFAULT_JSON_POLICY ops_per_config[{AEQ_STATIC_INT8!r}]: the TFLite ops "
            "ai-edge-quantizer quantizes (named in the reason of an op that stays float)"],
        registry={"patterns": list(PT2EQuantizer.STATIC_OPS), "shares_input": shares, "annotated": sorted(own),
                  "between_quantized": sorted(between),
                  "ai_edge_quantizer": sorted(set(policy))}, dtypes={})
