"""OpenVINO: `ov.convert_model` of the ExportedProgram, compiled and run on the CPU plugin.

Target `openvino:cpu` (the CPU plugin: the one that runs here). The table `aten-openvino.json` is proven
by one-op models of the probe catalogue: converted from their ExportedProgram, compiled for the CPU,
run and compared with PyTorch; `produces` lists the OpenVINO operation types the conversion made. Compiled at f32
(`INFERENCE_PRECISION_HINT`): on a CPU with bf16 instructions the plugin computes in bf16 by default.

`openvino:cpu+int8`: NNCF post-training quantization of the converted model, compiled for the CPU plugin; an op
is quantized when the plugin's runtime graph runs the layer it is part of at u8/i8 (`int8_outcome`).
"""

from __future__ import annotations

import contextlib
import os
from functools import cache
from typing import Any

from exportlint.family import EXPORT_GRAPH, ConversionPath, Family, Precision

LIBRARIES = ("torch", "openvino")
TABLE = "aten-openvino"
GENERATOR_VERSION = "1"
DEVICE = {"cpu": "CPU"}
F32 = {"INFERENCE_PRECISION_HINT": "f32"}
INT8 = Precision(
    "int8", ("cpu",), "nncf.quantize(ov.convert_model(ExportedProgram), nncf.Dataset(calibration inputs)), "
    "compiled for the CPU plugin", "aten-openvino-int8", ("torch", "openvino", "nncf"))


class OpenVINO(Family):
    name = "openvino"
    title = "OpenVINO"
    versions = ("cpu",)
    default = "cpu"
    ordered = False  # devices, not versions
    paths = (ConversionPath("export", EXPORT_GRAPH, "ov.convert_model(ExportedProgram)"),)
    libraries = LIBRARIES
    docs = ("Converted with `ov.convert_model` from the ExportedProgram, compiled with `ov.compile_model` "
            "for the CPU plugin and run against PyTorch's outputs.")
    runners = {"export": "convert_and_run"}
    table = TABLE
    precisions = {"int8": INT8}

    @classmethod
    def quant_ignored(cls, graph: Any, precision: str) -> dict[str, str]:
        return ignored_patterns(graph)


def _op_types(model: Any) -> list[str]:
    """The operation types of an `ov.Model`, but its inputs, outputs and constants."""
    return sorted({op.get_type_name() for op in model.get_ops()} - {"Parameter", "Result", "Constant"})


def convert(program: Any, inputs: tuple, version: str) -> tuple[list[str], list[Any]]:
    """Convert, compile for `version`'s device and run: (OpenVINO op types, outputs). At f32: on a CPU with bf16
    instructions the plugin computes in bf16 by default, which would tell a runtime's choice for a conversion's
    error."""
    import openvino as ov

    model = ov.convert_model(program)
    ops = _op_types(model)
    compiled = ov.compile_model(model, DEVICE[version], F32)
    result = compiled([t.detach().numpy() for t in inputs])
    return ops, [result[out] for out in compiled.outputs]


def convert_and_run(subject: Any, target: Any) -> tuple[bool, str]:
    """The `--confirm` check: convert the captured ExportedProgram, compile, run, compare."""
    import torch

    from exportlint.decide import ran
    from exportlint.tables.probe.harness import compare_outputs

    program = subject.program if subject.program is not None else torch.export.export(subject.model, subject.inputs)
    ops, outputs = convert(program, subject.inputs, target.version)
    return ran(compare_outputs(subject.expected(), outputs, True, "OpenVINO"),
               f"ov.convert_model: {len(ops)} OpenVINO op types; compiled and ran on {DEVICE[target.version]}")


def probe_case(case: Any) -> Any:
    from exportlint.tables.probe.harness import begin_probe, compare_outputs, first_line

    record, _, program, inputs, expected = begin_probe(case)
    if program is None:
        return record
    for version in OpenVINO.versions:
        try:
            record.produced, got = convert(program, inputs, version)
            record.results[version] = compare_outputs(expected, got, case.deterministic, "OpenVINO")
        except Exception as exc:  # noqa: BLE001 - the converter's error is the result
            record.results[version] = first_line(exc)
    return record


def fx_op_table() -> tuple[str, frozenset[str]]:
    """The ATen overloads the PyTorch frontend translates from an FX graph (its C++ FX op table, read
    from the frontend library's strings): (library file name, ops)."""
    import re
    from pathlib import Path

    import openvino

    library = min((Path(openvino.__file__).parent / "libs").glob("libopenvino_pytorch_frontend.so*"))
    names = re.findall(rb"aten\.[a-z_0-9]+\.[A-Za-z_0-9]+(?=\0)", library.read_bytes())
    return library.name, frozenset(n.decode() for n in names)


def registry_entries(fx_ops: frozenset[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """A claim per functional ATen overload, for the ops no probe contains ("unverified": `decide`
    converts for real where a model has one)."""
    from exportlint.tables.probe import harness

    ops = {}
    for overload in harness.aten_overloads():
        key = str(overload)
        reason = ("in the PyTorch frontend's FX op table (not probed)" if key in fx_ops else
                  "not in the PyTorch frontend's FX op table: converts only where ov.convert_model "
                  "decomposes it first (not probed)")
        ops[key] = {"*": {"status": "unverified", "evidence": "registry", "reason": reason}}
    return ops


def build_table(records: list[Any], probe_meta: dict[str, Any]) -> dict[str, Any]:
    from exportlint.tables.probe import harness

    library, fx_ops = fx_op_table()
    return harness.assemble(
        "openvino", OpenVINO.versions, registry_entries(fx_ops), harness.merge(records, OpenVINO.versions, "produces"),
        records, probe_meta, generator=__name__, generator_version=GENERATOR_VERSION, libraries=LIBRARIES, sources=[
            f"registry: the FX op table of openvino/libs/{library} (get_supported_ops_fx)",
            "probes: torch.export, openvino.convert_model(ExportedProgram), compile_model(CPU), run and "
            "compared with PyTorch"],
        registry={"fx_ops": len(fx_ops)}, dtypes={})


# --- int8: NNCF post-training quantization, run by the CPU plugin ----------------------------------

# NNCF's ignored patterns for OpenVINO (nncf/openvino/quantization/ignored_patterns.py), on ATen stems: what it never
# quantizes, whatever its hardware config says of each operation. SE_BLOCK: ReduceMean -> LINEAR (+ bias) -> ReLU /
# PReLU / Swish -> LINEAR (+ bias) -> Sigmoid / HSigmoid -> Multiply with the ReduceMean's input; all but the ends.
SE_BLOCK = (("mean", "adaptive_avg_pool2d"), ("conv2d", "conv1d", "linear", "matmul"), ("relu", "relu_", "prelu",
            "silu", "silu_"), ("conv2d", "conv1d", "linear", "matmul"), ("sigmoid", "hardsigmoid"), ("mul",))


def ignored_patterns(graph: Any) -> dict[str, str]:
    """The nodes of `graph` NNCF's ignored patterns leave float: {node name: why}."""
    from exportlint.ir import NodeKind
    from exportlint.tables import BOOKKEEPING_OPS, op_stem

    none = _no_operation()

    def readers(node: Any) -> list[Any]:
        out = []
        for s in graph.successors(node):
            out += readers(s) if s.op in BOOKKEEPING_OPS or s.op in none else [s] if s.kind is NodeKind.OP else []
        return out

    def chains(node: Any, steps: tuple) -> list[list[Any]]:
        if op_stem(node.op) not in steps[0]:
            return []
        if len(steps) == 1:
            return [[node]]
        return [[node, *rest] for r in readers(node) for rest in chains(r, steps[1:])]

    out: dict[str, str] = {}
    for node in graph.nodes():
        for chain in chains(node, SE_BLOCK):
            pooled = {p.name for p in graph.predecessors(chain[0])}
            # the gate multiplies the pooled tensor; both LINEARs have their ADD_BIAS
            if pooled & {p.name for p in graph.predecessors(chain[-1])} and _biased(graph, chain[1]) and _biased(
                    graph, chain[3]):
                out.update(dict.fromkeys((n.name for n in chain[1:-1]), "NNCF's ignored pattern SE_BLOCK (a "
                                         "squeeze-and-excitation block) keeps its layers float"))
    return out


@cache
def _no_operation() -> frozenset[str]:
    """The ATen ops that make no OpenVINO operation (alias, clone, dropout in eval): probed, nothing produced."""
    from exportlint.tables import load_table

    ops = (load_table("aten", "openvino") or {}).get("ops", {})
    return frozenset(op for op, per in ops.items() if all(
        e.get("evidence") == "probe" and e.get("status") == "supported" and not e.get("produces")
        for e in per.values()))


def _biased(graph: Any, node: Any) -> bool:
    """Whether a conv / linear node adds a bias in OpenVINO: it has one, and (where the captured program tells) not
    all zeros, an Add ov.convert_model drops (torchvision's initialisation zeroes conv biases)."""
    if len(node.inputs) < 3:
        return False
    program = graph.source
    try:
        fx = next(n for n in program.graph.nodes if n.name == node.name)
        return bool(program.state_dict[program.graph_signature.inputs_to_parameters[fx.args[2].name]].any())
    except (AttributeError, IndexError, KeyError, StopIteration, RuntimeError):  # RuntimeError: a meta tensor
        return True  # not a parameter we can read: assume a trained, non-zero bias


# What a node that stays float is told, per cause (`int8_outcome`).
NO_FAKE_QUANTIZE = ("NNCF puts no FakeQuantize on its inputs (its CPU hardware config does not quantize this "
                    "operation, or its input here is not quantized)")
FLOAT_KERNEL = "NNCF quantizes its inputs, but the CPU plugin runs it in float (dequantized before it)"
_NOT_LAYERS = ("Input", "Output", "Const", "FakeQuantize", "Reorder")  # runtime layers that compute nothing of a node


def _decompositions() -> Any:
    """The decomposition table `ov.convert_model` applies to an ExportedProgram (applied first here, so that the
    names of the converted model's operations map back to the user's nodes through `from_node`)."""
    from openvino.frontend.pytorch.torchdynamo.export_decompositions import ops_to_not_decompose
    from torch.export.decomp_utils import CustomDecompTable

    table = CustomDecompTable()  # as TorchFXPythonDecoder.from_exported_program builds it
    for op in ops_to_not_decompose():
        table.pop(op, None)
    return table


def quantize_int8(program: Any, inputs: tuple) -> Any:
    """`nncf.quantize` of `ov.convert_model(program)`, calibrated on the example `inputs` (NNCF's defaults
    otherwise: mixed preset, per-channel weights)."""
    import logging

    import nncf
    import openvino as ov

    nncf.set_log_level(logging.ERROR)
    data = nncf.Dataset([tuple(t.detach().numpy() for t in inputs)])
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):  # its progress bars
        return nncf.quantize(ov.convert_model(program), data, subset_size=1)


def int8_outcome(module: Any, inputs: tuple) -> tuple[tuple[Any, Any], dict[str, tuple[str, str]]]:
    """Quantize and compile `module` for real: ((the quantized model, compiled), {name of a node of
    `torch.export`'s graph: ("quantized" | "float", why)}). A node is quantized when every runtime layer it is
    part of (its `originalLayersNames`: the converter names an operation after the node, `NODE/aten.op/Type`)
    runs at u8 or i8; a node none is named after whose one reader has some (a convolution with the batch norm
    after it folded in) gets its reader's. Raises the converter's, quantizer's or plugin's error."""
    import openvino as ov
    import torch

    from exportlint.tables.probe.harness import note_outcome, source_node

    program = torch.export.export(module, inputs).run_decompositions(_decompositions())
    root = {n.name: source_node(n) or n.name for n in program.graph.nodes if n.op == "call_function"}
    quantized = quantize_int8(program, inputs)
    fed = {op.get_friendly_name().split("/")[0] for op in quantized.get_ops()
           if any(i.get_source_output().get_node().get_type_name() == "FakeQuantize" for i in op.inputs())}
    compiled = ov.compile_model(quantized, DEVICE["cpu"], F32)
    layers: dict[str, list[tuple[str, bool]]] = {}  # node -> (layer type, runs at u8/i8) of the layers made from it
    for layer in compiled.get_runtime_model().get_ops():
        info = layer.get_rt_info()
        kind = _layer_type(layer)
        sources = [_layer_type(i.get_source_output().get_node()) for i in layer.inputs()]
        if kind in _NOT_LAYERS or all(s == "Const" for s in sources):  # all-Const: a constant's reshape (a bias)
            continue
        for name in {n.split("/")[0] for n in info["originalLayersNames"].astype(str).split(",")} & root.keys():
            layers.setdefault(name, []).append((kind, info["runtimePrecision"].astype(str) in ("u8", "i8")))
    for node in program.graph.nodes:  # a convolution with the batch norm after it folded in takes a new name
        reader = next(iter(node.users)).name if len(node.users) == 1 else ""
        if node.name in root and node.name not in layers and reader in layers:
            layers[node.name] = layers[reader]
    out: dict[str, tuple[str, str]] = {}
    for name, made in layers.items():  # a Reshape after a layer's int8 computation (a linear's) is not it
        for _, int8 in [m for m in made if m[0] != "Reshape"] or made:
            note_outcome(out, root[name], "quantized" if int8 else "float",
                         "" if int8 else FLOAT_KERNEL if name in fed else NO_FAKE_QUANTIZE)
    return (quantized, compiled), out


def _layer_type(layer: Any) -> str:
    return layer.get_rt_info()["layerType"].astype(str)


def run_int8(artifact: tuple[Any, Any], inputs: tuple, expected: list) -> str | None:
    """Run the compiled int8 model on the CPU plugin: None when it runs and its outputs have PyTorch's shapes."""
    from exportlint.tables.probe.harness import compare_outputs

    compiled = artifact[1]
    result = compiled([t.detach().numpy() for t in inputs])
    return compare_outputs(expected, [result[o] for o in compiled.outputs], False, "OpenVINO (int8)")


def probe_int8(case: Any) -> Any:
    """One catalogue probe between a quantized producer and consumer (`after_producer` with identity linears: NNCF
    quantizes a MatMul's inputs), quantized and compiled with `int8_outcome`, run on the CPU plugin (shapes compared).
    `produced` lists the OpenVINO operation types of the quantized model, `fallback["cpu"]` the ATen ops that
    stayed float, `note` why."""
    from exportlint.tables.probe.harness import quant_probe

    return quant_probe(case, "cpu", int8_outcome, run_int8, ("converting, quantizing or compiling",
                                                            "running the int8 model on the CPU plugin"),
                       consumer=True, matmul=True, produced=lambda artifact: _op_types(artifact[0]))


def _prepare_int8() -> None:
    import nncf  # noqa: F401
    import openvino.frontend.pytorch.fx_decoder  # noqa: F401


probe_int8.prepare = _prepare_int8


def int8_agnostic() -> tuple[list[str], list[str]]:
    """(the OpenVINO operation types NNCF treats as quantization-agnostic: a FakeQuantize moves through them, read
    from its metatypes; the ATen ops the float table, `aten-openvino.json`, says become only such operations)."""
    from nncf.openvino.graph.metatypes.groups import QUANTIZE_AGNOSTIC_OPERATIONS

    from exportlint.tables import load_table

    agnostic = {name for metatype in QUANTIZE_AGNOSTIC_OPERATIONS for name in metatype.op_names}
    ops = [op for op, per_version in (load_table("aten", "openvino") or {}).get("ops", {}).items()
           if all(e.get("produces") and set(e["produces"]) <= agnostic for e in per_version.values())]
    return sorted(agnostic), sorted(ops)


# The CPU plugin folds a batch norm into the convolution before it (the converter's ConvolutionMultiplyFusion).
_CONVS = ["aten.conv1d.default", "aten.conv2d.default", "aten.conv3d.default", "aten.convolution.default"]


# ov.convert_model folds constant subgraphs, but not a GatherElements: an embedding whose indices a `torch.gather` of
# constants computes (HF BERT's default token_type_ids) reads constants only and stays in the model. NNCF (default
# model_type) marks it "weights as outputs" without giving it a weight quantizer, and its quantizer setup raises
# KeyError (QuantizerPropagationStateGraph._handle_output_quantizers_for_weights_as_outputs_ops).
CONSTANT_GATHER = {"match": {"inputs": {"0": {"const": True}, "1": {"const": True}}}, "status": "unsupported",
                   "evidence": "registry", "fails_if_feeds": ["aten.embedding.default"], "reason": (
                       "nncf.quantize raises KeyError ('.../aten.embedding.default/Gather'): ov.convert_model does not "
                       "fold this gather of constants (GatherElements), so the embedding reading it computes from "
                       "constants only, and NNCF gives that 'weights as outputs' op no weight quantizer; pass the "
                       "indices as a model input (BERT: token_type_ids) or quantize with "
                       "model_type=nncf.ModelType.TRANSFORMER")}


def build_int8_table(records: list[Any], probe_meta: dict[str, Any]) -> dict[str, Any]:
    from exportlint.tables.probe import harness

    probed = harness.merge(records, INT8.versions, "produces")
    harness.mark_fallback(probed, records, INT8.versions, harness.stays_float, exact=True)
    for entry in probed.get("aten.gather.default", {}).values():
        entry.setdefault("variants", []).append(CONSTANT_GATHER)
    agnostic, moved = int8_agnostic()
    registry = harness.quant_sources(probed, [], {"aten.batch_norm.default": _CONVS,
                                                  "aten._native_batch_norm_legit_no_training.default": _CONVS})
    for op in moved:  # a FakeQuantize moves through it: int8 where what it reads or what reads it is
        for entry in probed.get(op, {}).values():
            if entry["status"] == "supported":
                entry["same_scale"] = True
    return harness.assemble(
        "openvino-int8", INT8.versions, registry, probed, records, probe_meta, generator=__name__,
        generator_version=GENERATOR_VERSION, libraries=INT8.libraries, sources=[
            f"probes: each catalogue op between identity linears, {INT8.call}, run; an op is quantized when the "
            "CPU plugin's runtime graph (compiled_model.get_runtime_model()) runs every layer made from it at u8/i8",
            "registry: nncf.openvino.graph.metatypes.groups.QUANTIZE_AGNOSTIC_OPERATIONS, and the operations each ATen "
            "op becomes in aten-openvino.json (same_scale); batch_norm folds into the convolution before it "
            "(fuses_after)",
            "registry: NNCF's quantizer setup fails on an embedding of constant indices that ov.convert_model leaves "
            "unfolded (a gather of constants: CONSTANT_GATHER, proven by tests/test_quant.py with the real NNCF)"],
        registry={"quantize_agnostic": agnostic, "same_scale": moved}, dtypes={})
