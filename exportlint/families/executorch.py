"""ExecuTorch: `to_edge_transform_and_lower(ep, partitioner=[...])`, then `to_executorch()`.

Targets: `executorch:xnnpack` (CPU, the default), `executorch:vulkan` (mobile GPU), `executorch:coreml`
(Apple; the Core ML delegate) and `executorch:portable` (no delegate: the portable CPU kernels). An op
a delegate's partitioner does not take still runs, on the portable kernels (status "fallback": a
warning, slower); an op with no kernel at all fails `to_executorch` (or the run). The table
`aten-executorch.json` is proven by one-op models of the probe catalogue, lowered with each partitioner
and, where the runtime runs here (XNNPACK, portable), run in `executorch.runtime` against PyTorch.
"""

from __future__ import annotations

from typing import Any

from exportlint.family import EXPORT_GRAPH, ConversionPath, Family, Precision

PARTITIONERS = {  # version -> (module, class) of its partitioner; portable has none
    "xnnpack": ("executorch.backends.xnnpack.partition.xnnpack_partitioner", "XnnpackPartitioner"),
    "vulkan": ("executorch.backends.vulkan.partitioner.vulkan_partitioner", "VulkanPartitioner"),
    "coreml": ("executorch.backends.apple.coreml.partition", "CoreMLPartitioner"),
}
RUNS_HERE = ("xnnpack", "portable")  # executorch.runtime has these kernels on Linux x86
LIBRARIES = ("torch", "executorch", "coremltools")
TABLE = "aten-executorch"
GENERATOR_VERSION = "1"
_NOT_COMPUTE = ("getitem", "executorch_call_delegate")
INT8 = Precision(
    "int8", ("xnnpack",), "prepare_pt2e/convert_pt2e with XNNPACKQuantizer(get_symmetric_quantization_config()), "
    "then to_edge_transform_and_lower(partitioner=[XnnpackPartitioner()])", "aten-executorch-int8",
    ("torch", "executorch", "torchao"))


class ExecuTorch(Family):
    name = "executorch"
    title = "ExecuTorch"
    versions = ("xnnpack", "vulkan", "coreml", "portable")
    default = "xnnpack"
    ordered = False  # delegates, not versions
    paths = (ConversionPath("export", EXPORT_GRAPH, "to_edge_transform_and_lower(ExportedProgram)"),)
    libraries = LIBRARIES
    delegates = ("xnnpack", "vulkan", "coreml")
    docs = ("Lowered with `to_edge_transform_and_lower` and the delegate's partitioner, then "
            "`to_executorch()`; the XNNPACK and portable `.pte` also run in `executorch.runtime`. Per op: "
            "delegated, falls back to the portable kernels (a warning), or fails.")
    runners = {"export": "lower_and_run"}
    # The Core ML delegate compiles at float16 unless told otherwise; Vulkan only with force_fp16.
    fp16 = {"coreml": "lower with CoreMLPartitioner(compile_specs=CoreMLBackend.generate_compile_specs("
                      "compute_precision=ct.precision.FLOAT32))"}
    table = TABLE
    precisions = {"int8": INT8}


def _partitioners(version: str) -> list[Any]:
    import importlib

    if version == "portable":
        return []
    module, name = PARTITIONERS[version]
    return [getattr(importlib.import_module(module), name)()]


def lower(program: Any, version: str) -> tuple[Any, list[str], int]:
    """Lower an ExportedProgram for `version`: (the ExecuTorch program, the edge ops left outside the
    delegate (portable kernels), the number of ops inside it)."""
    from executorch.exir.lowered_backend_module import get_lowered_submodules

    edge = _edge(program, version)
    graph_module = edge.exported_program().graph_module
    portable = [_op_name(n.target) for n in graph_module.graph.nodes
                if n.op == "call_function" and _op_name(n.target) not in _NOT_COMPUTE]
    delegated = sum(1 for _, lowered, _ in get_lowered_submodules(graph_module)
                    for n in lowered.original_module.graph.nodes if n.op == "call_function")
    return edge.to_executorch(), portable, delegated


def _edge(program: Any, version: str) -> Any:
    from executorch.exir import to_edge_transform_and_lower

    return to_edge_transform_and_lower(program, partitioner=_partitioners(version))


def _op_name(target: Any) -> str:
    return getattr(target, "__name__", str(target))


def run_pte(buffer: bytes, inputs: tuple, expected: list, compare_values: bool = True) -> str | None:
    """Run the `.pte` in `executorch.runtime`: None when its outputs match PyTorch's, else why not."""
    from executorch.runtime import Runtime

    from exportlint.tables.probe.harness import compare_outputs

    method = Runtime.get().load_program(buffer).load_method("forward")
    return compare_outputs(expected, list(method.execute(list(inputs))), compare_values, "executorch.runtime")


def lower_and_run(subject: Any, target: Any) -> tuple[bool, str]:
    """The real check: lower the model's ExportedProgram, then run the `.pte` where it runs here."""
    import torch

    # A fresh export per lowering: a second lowering in the process, of the captured program or a copy, fails
    # with PendingUnbackedSymbolNotFound on data-dependent shapes where a new export lowers (risky.bool_mask_index).
    et, portable, delegated = lower(torch.export.export(subject.model, subject.inputs), target.version)
    detail = delegation_text(target.version, delegated, portable)
    if target.version in RUNS_HERE:
        from exportlint.decide import ran

        return ran(run_pte(et.buffer, subject.inputs, subject.expected()),
                   f"{detail}; the .pte ran in executorch.runtime and matches PyTorch")
    return True, f"{detail} (lowered; the {target.version} runtime does not run here)"


def delegation_text(version: str, delegated: int, portable: list[str]) -> str:
    if version == "portable":
        return f"to_executorch: {len(portable)} ops on the portable kernels"
    total = delegated + len(portable)
    share = f"{delegated / total:.0%}" if total else "n/a"
    rest = f"; portable kernels: {', '.join(sorted(set(portable)))}" if portable else ""
    return f"{delegated} of {total} ops ({share}) delegated to {version}{rest}"


# --- probes and table --------------------------------------------------------------------------


def probe_case(case: Any) -> Any:
    """One catalogue probe, lowered for every version; `fallback[version]` lists the edge ops left to
    the portable kernels."""
    from exportlint.tables.probe.harness import begin_probe, first_line

    record, _, program, inputs, expected = begin_probe(case)
    if program is None:
        return record
    for version in ExecuTorch.versions:
        try:
            et, portable, _ = lower(program, version)
            record.fallback[version] = sorted(set(portable)) if version != "portable" else []
            record.results[version] = (run_pte(et.buffer, inputs, expected, case.deterministic)
                                       if version in RUNS_HERE else None)
        except Exception as exc:  # noqa: BLE001 - the converter's error is the result
            record.results[version] = first_line(exc)
    return record


def _prepare() -> None:
    """Import the lowering stack and every partitioner once per probe worker (a minute, cold)."""
    import executorch.exir  # noqa: F401
    import executorch.runtime  # noqa: F401

    for version in PARTITIONERS:
        _partitioners(version)


probe_case.prepare = _prepare


def build_table(records: list[Any], probe_meta: dict[str, Any]) -> dict[str, Any]:
    from exportlint.tables.probe import harness

    versions = ExecuTorch.versions
    probed = harness.merge(records, versions, "produces")
    harness.mark_fallback(probed, records, ExecuTorch.delegates,
                          "not taken by the {version} partitioner: runs on the portable kernels (slower)")
    return harness.assemble(
        "executorch", versions, {}, probed, records, probe_meta, generator=__name__,
        generator_version=GENERATOR_VERSION, libraries=LIBRARIES, sources=[
            "probes: torch.export, to_edge_transform_and_lower(partitioner=[XnnpackPartitioner() | "
            "VulkanPartitioner() | CoreMLPartitioner()] or none), to_executorch(); xnnpack and portable "
            ".pte run in executorch.runtime and compared with PyTorch"],
        registry={}, dtypes={})


# --- int8: PT2E static quantization for the XNNPACK delegate ---------------------------------------

# What a node that stays float is told, per cause (`int8_outcome`).
NO_ANNOTATION = "no XNNPACKQuantizer annotator or pattern takes it: no quantize/dequantize around it after convert_pt2e"
NO_INT8_KERNEL = "XNNPACK has no int8 kernel for it (its partitioner config is FP32 only): it is dequantized, run in float, requantized"
NOT_DELEGATED = "not taken by the XNNPACK partitioner: runs in float on the portable kernels"


def quantize_int8(module: Any, inputs: tuple) -> Any:
    """PT2E static int8 for XNNPACK: torch.export, prepare_pt2e, calibrate on `inputs`, convert_pt2e."""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer, get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config())
    prepared = prepare_pt2e(torch.export.export(module, inputs).module(), quantizer)
    prepared(*inputs)
    return convert_pt2e(prepared)


def _quant_kernels() -> tuple[set[str], set[str]]:
    """The XNNPACK partitioner's configs: (edge ops with an int8 kernel, activations fused into them)."""
    from executorch.backends.xnnpack.partition.config import ALL_PARTITIONER_CONFIGS
    from executorch.backends.xnnpack.partition.config.xnnpack_config import ConfigPrecisionType

    int8, fused = set(), set()
    for config in ALL_PARTITIONER_CONFIGS:
        made = config()
        if ConfigPrecisionType.STATIC_QUANT in made.supported_precision_types():
            int8.add(made.target_name)
            fused.update(getattr(made, "fused_acts", []))
    return int8, fused


def int8_outcome(module: Any, inputs: tuple) -> tuple[Any, dict[str, tuple[str, str]]]:
    """Quantize and lower `module` for real: (the ExecuTorch program, {name of a node of `torch.export`'s
    graph: ("quantized" | "float", why)}). A node runs in int8 when it is inside the XNNPACK delegate with
    every input dequantized there (or is an activation fused into such a node) and the delegate has an int8
    kernel for it. Nodes folded away (batch_norm into conv) are absent. Raises the quantizer's or lowering's error."""
    import torch
    from executorch.exir.lowered_backend_module import get_lowered_submodules

    from exportlint.tables.probe.harness import is_qdq, note_outcome, source_node

    converted = quantize_int8(module, inputs)
    edge = _edge(torch.export.export(converted, inputs), "xnnpack")
    int8, fused = _quant_kernels()
    annotated = {n.name for n in converted.graph.nodes if any(is_qdq(a, "dequantize") for a in n.all_input_nodes)}
    out: dict[str, tuple[str, str]] = {}

    def note(node: Any, status: str, why: str) -> None:
        note_outcome(out, source_node(node), status, why)

    graph_module = edge.exported_program().graph_module
    for node in _compute(graph_module):
        note(node, "float", NOT_DELEGATED)
    for _, lowered, _ in get_lowered_submodules(graph_module):
        quantized: set[Any] = set()
        for node in _compute(lowered.original_module):
            name = _op_name(node.target).removeprefix("aten.")
            inputs_dq = [is_qdq(a, "dequantize") for a in node.all_input_nodes if a.op == "call_function"]
            if (name in int8 and inputs_dq and all(inputs_dq)) or (name in fused and set(node.all_input_nodes) & quantized):
                quantized.add(node)
                note(node, "quantized", "")
            else:
                note(node, "float", NO_INT8_KERNEL if source_node(node) in annotated else NO_ANNOTATION)
    return edge.to_executorch(), out


def _compute(graph_module: Any) -> list[Any]:
    from exportlint.tables.probe.harness import is_qdq

    return [n for n in graph_module.graph.nodes if n.op == "call_function" and not is_qdq(n)
            and _op_name(n.target) not in _NOT_COMPUTE]


def run_int8(et: Any, inputs: tuple, expected: list) -> str | None:
    """Run the int8 `.pte` in executorch.runtime: None when it runs and its outputs have PyTorch's shapes."""
    return run_pte(et.buffer, inputs, expected, compare_values=False)


def probe_int8(case: Any) -> Any:
    """One catalogue probe after a quantized producer (`after_producer`), quantized and lowered with
    `int8_outcome`, the `.pte` run in executorch.runtime (shapes compared: int8 changes the numbers).
    `fallback["xnnpack"]` lists the ATen ops that stayed float, `note` why."""
    from exportlint.tables.probe.harness import quant_probe

    return quant_probe(case, "xnnpack", int8_outcome, run_int8,
                       ("quantizing or lowering", "loading or running the .pte in executorch.runtime"))


def _prepare_int8() -> None:
    import executorch.exir  # noqa: F401
    import executorch.runtime  # noqa: F401
    import torchao.quantization.pt2e.quantize_pt2e  # noqa: F401

    _partitioners("xnnpack")


probe_int8.prepare = _prepare_int8


def int8_sources() -> tuple[list[str], dict[str, list[str]]]:
    """From the installed quantizer's source: the ATen ops that share their input's qparams
    (`_is_share_obs_or_fq_op`: quantized only after a quantized op, unless a pattern of their own annotates them
    always, as `adaptive_avg_pool2d`), and the ops a pattern folds into the op before them (`SUPPORTED_PATTERNS`
    `conv_bn*`: batch_norm after a conv)."""
    import torch
    from executorch.backends.xnnpack.quantizer import xnnpack_quantizer_utils as utils
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer

    from exportlint.tables.probe.harness import aten_overloads

    annotated = {str(t) for p in XNNPACKQuantizer.SUPPORTED_PATTERNS for t in p.op_overloads}  # "always annotate"
    shares = [str(op) for op in aten_overloads() if utils._is_share_obs_or_fq_op(op) and str(op) not in annotated]
    convs = sorted({str(t) for p in XNNPACKQuantizer.SUPPORTED_PATTERNS if "_bn" in p.name
                    for t in p.op_overloads if isinstance(t, torch._ops.OpOverload)})
    return shares, {"aten.batch_norm.default": convs, "aten._native_batch_norm_legit_no_training.default": convs}


# XNNPACKQuantizer.transform_for_annotation (`_convert_scalars_to_attrs`) makes the scalar of these ops a float
# tensor: on an integer tensor (position ids, index math) the result turns float and the op that reads it as
# indices fails in calibration (GPT-2's embedding).
SCALARS_TO_FLOAT = ("aten.add.Tensor", "aten.mul.Tensor")
INDEX_READERS = ("aten.embedding.default", "aten.index.Tensor", "aten.index_select.default", "aten.gather.default")


def _integer_scalar_variants(probed: dict[str, dict[str, dict[str, Any]]]) -> None:
    for op in SCALARS_TO_FLOAT:
        for entry in probed.get(op, {}).values():
            entry.setdefault("variants", []).extend(
                {"match": {"inputs": {"0": {"dtype": dtype}}, "given": {"other": True}}, "status": "unsupported",
                 "evidence": "registry", "fails_if_feeds": list(INDEX_READERS), "reason": (
                     "XNNPACKQuantizer.transform_for_annotation (_convert_scalars_to_attrs) turns the scalar into a "
                     f"float tensor: this {dtype} result becomes float, and the op that reads it as indices fails")}
                for dtype in ("int64", "int32"))


def build_int8_table(records: list[Any], probe_meta: dict[str, Any]) -> dict[str, Any]:
    from exportlint.tables.probe import harness
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer

    shares, folds = int8_sources()
    probed = harness.merge(records, INT8.versions, "produces")
    harness.mark_fallback(probed, records, INT8.versions, harness.stays_float, exact=True)
    _integer_scalar_variants(probed)
    registry = harness.quant_sources(probed, shares, folds)
    return harness.assemble(
        "executorch-int8", INT8.versions, registry, probed, records, probe_meta, generator=__name__,
        generator_version=GENERATOR_VERSION, libraries=INT8.libraries, sources=[
            f"probes: each catalogue op after a quantized producer (x * w), {INT8.call}, to_executorch(); "
            "the .pte run in executorch.runtime; an op is quantized when it is inside the delegate with every "
            "input dequantized and the partitioner config has STATIC_QUANT (or it is a fused activation)",
            "registry: executorch.backends.xnnpack.quantizer.xnnpack_quantizer_utils._is_share_obs_or_fq_op "
            "(shares_input), XNNPACKQuantizer.SUPPORTED_PATTERNS conv_bn* (fuses_after), _convert_scalars_to_attrs "
            "(add/mul of an integer tensor and a scalar: unsupported)"],
        registry={"patterns": [p.name for p in XNNPACKQuantizer.SUPPORTED_PATTERNS], "shares_input": sorted(shares)},
        dtypes={})
