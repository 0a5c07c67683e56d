"""ONNX: `torch.onnx.export` (the dynamo exporter by default, or the TorchScript exporter), then the
produced opset, `onnx.checker` and ONNX Runtime against PyTorch's outputs."""

from __future__ import annotations

import io

from exportlint.family import EXPORT_GRAPH, TRACE_GRAPH, ConversionPath, Family, Precision

QDQ_OPSET = "17"  # the opset the QDQ table is probed at
QDQ = Precision(
    "qdq", tuple(str(n) for n in range(13, 24)),  # per-channel QDQ needs opset 13
    "onnxruntime.quantization.quantize_static(quant_format=QuantFormat.QDQ) of torch.onnx.export(dynamo=True), "
    "run in ONNX Runtime CPU", "aten-onnx-qdq", ("torch", "onnx", "onnxscript", "onnxruntime"))


class ONNX(Family):
    name = "onnx"
    title = "ONNX"
    versions = tuple(str(n) for n in range(9, 24))
    default = "18"
    paths = (ConversionPath("dynamo", EXPORT_GRAPH, "torch.onnx.export(dynamo=True)"),
             ConversionPath("torchscript", TRACE_GRAPH, "torch.onnx.export(dynamo=False)"))
    libraries = ("torch", "onnx", "onnxscript", "onnxruntime")
    auto_paths = ("dynamo", "torchscript")  # seconds, torch only: run by default
    generators = ("aten_onnx", "torchscript_onnx", "onnx_onnx", "onnx_onnxruntime")
    version_words = "opset {version}"
    precisions = {"qdq": QDQ}
    docs = ("`torch.onnx.export` of the ExportedProgram (dynamo) and of the module (TorchScript "
            "exporter), then the produced opset, `onnx.checker` and ONNX Runtime against PyTorch.")

    @classmethod
    def runner(cls, path: str):
        return _runner(path) if path in ("dynamo", "torchscript") else None


def export(subject, opset: int, exporter: str = "dynamo"):
    """The ModelProto `torch.onnx.export` makes of `subject` at `opset`: of the captured ExportedProgram,
    else of the module as users pass it (dynamo), or of the TorchScript module (the TorchScript exporter)."""
    import logging
    import warnings

    import onnx
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        if exporter == "dynamo":
            if subject.program is not None:
                try:
                    return torch.onnx.export(subject.program, (), dynamo=True, opset_version=opset,
                                             verbose=False).model_proto
                except Exception:  # noqa: BLE001 - the exporter's own capture of the module, as users pass
                    pass  # it, decomposes what the captured program cannot (nonzero's unbacked size)
            return torch.onnx.export(subject.fresh(), subject.inputs, dynamo=True, opset_version=opset,
                                     verbose=False).model_proto
        buffer = io.BytesIO()
        torch.onnx.export(subject.for_torchscript_exporter(), subject.inputs, buffer, dynamo=False,
                          opset_version=opset)
        return onnx.load_from_string(buffer.getvalue())


def _runner(exporter: str):
    def run(subject, target) -> tuple[bool, str]:
        from exportlint.decide import validated
        from exportlint.tables.probe.onnx_runner import validate

        opset = int(target.version)
        result = validate(export(subject, opset, exporter), opset, subject.inputs, subject.expected(),
                          deterministic=True)
        return validated(result, f"torch.onnx.export(dynamo={exporter == 'dynamo'}) produced {target}; "
                                 "onnx.checker and onnxruntime agree")
    return run


# --- qdq: ONNX Runtime static quantization, QDQ format ---------------------------------------------

_QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


def quantize_qdq(proto, inputs: tuple):
    """`quantize_static(QuantFormat.QDQ)` of `proto`, calibrated on the example `inputs` (int8 activations and
    weights, ONNX Runtime's defaults otherwise): the quantized ModelProto."""
    import logging
    import pathlib
    import tempfile

    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    feeds = {i.name: t.detach().numpy() for i, t in zip(proto.graph.input, inputs)}

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.left = [feeds]

        def get_next(self):
            return self.left.pop() if self.left else None

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # "please consider pre-processing" on every call
    try:
        with tempfile.TemporaryDirectory() as tmp:
            raw, out = pathlib.Path(tmp, "model.onnx"), pathlib.Path(tmp, "qdq.onnx")
            onnx.save(proto, raw)
            quantize_static(raw, out, Reader(), quant_format=QuantFormat.QDQ)
            return onnx.load(out)
    finally:
        root.setLevel(level)


def qdq_outcome(quantized) -> dict[str, tuple[str, str]]:
    """{ONNX node name: ("quantized" | "float", why)} of a QDQ model: a node is quantized when quantize_static
    quantizes its op type (its registries) and it sits between DQ and Q (an input comes from DequantizeLinear,
    every use of its output is a QuantizeLinear). An op of no registry between a DQ and a Q (a quantized
    producer and consumer) still computes in float."""
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    producer = {o: n for n in quantized.graph.node for o in n.output}
    users: dict[str, list] = {}
    for n in quantized.graph.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    out = {}
    for n in quantized.graph.node:
        if n.op_type in _QDQ_OPS:
            continue
        read = any(producer.get(i) is not None and producer[i].op_type == "DequantizeLinear" for i in n.input)
        uses = users.get(n.output[0], []) if n.output else []
        if n.op_type not in QDQRegistry and n.op_type not in QLinearOpsRegistry:
            out[n.name] = ("float", f"{n.op_type}: not in onnxruntime.quantization's QDQRegistry or QLinearOpsRegistry")
        elif read and uses and all(u.op_type == "QuantizeLinear" for u in uses):
            out[n.name] = ("quantized", "")
        else:
            out[n.name] = ("float", f"{n.op_type}: quantize_static left it without Q/DQ (its input is not quantized "
                                    "or its pattern is split)")
    return out


def run_qdq(quantized, inputs: tuple, expected: list) -> str | None:
    """Run the QDQ model in ONNX Runtime CPU: None when it runs and its outputs have PyTorch's shapes."""
    import onnxruntime

    from exportlint.tables.probe.harness import compare_outputs

    session = onnxruntime.InferenceSession(quantized.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {i.name: t.detach().numpy() for i, t in zip(session.get_inputs(), inputs)}
    return compare_outputs(expected, session.run(None, feeds), False, "onnxruntime (QDQ)")


def probe_qdq(case):
    """One catalogue probe after a quantized producer (`after_producer`): exported at opset 17, quantized by
    `quantize_qdq`, run in ONNX Runtime. `produced` lists the ONNX ops, `fallback[opset]` those left float."""
    import torch
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    from exportlint.tables.probe.harness import after_producer, begin_probe, first_line

    record, module, program, inputs, expected = begin_probe(after_producer(case))
    if program is None:
        return record
    stage = "torch.onnx.export"
    try:
        proto = torch.onnx.export(program, (), dynamo=True, opset_version=int(QDQ_OPSET), verbose=False).model_proto
        stage = "quantize_static"
        quantized = quantize_qdq(proto, inputs)
        outcome = qdq_outcome(quantized)
        stage = "running the QDQ model in onnxruntime"
        record.results[QDQ_OPSET] = run_qdq(quantized, inputs, expected)
    except Exception as exc:  # noqa: BLE001 - the exporter's, quantizer's or runtime's error is the result
        record.results[QDQ_OPSET] = f"{stage}: {first_line(exc)}"
        return record
    kinds = {n.name: n.op_type for n in quantized.graph.node}
    kinds_made = [n.op_type for n in proto.graph.node]
    if type(module).__name__ == "AfterProducer" and "Mul" in kinds_made:  # the producer's Mul is not the op's
        kinds_made.remove("Mul")
    record.produced = sorted(set(kinds_made))
    left = {kinds[name]: why for name, (status, why) in outcome.items() if status == "float"}
    record.fallback[QDQ_OPSET] = sorted(left)
    record.note = "; ".join(sorted(left.values()))
    last = next((n.op_type for n in proto.graph.node if proto.graph.output[0].name in n.output), "")
    record.output_quantized = last in QDQRegistry or last in QLinearOpsRegistry
    return record


def _prepare_qdq() -> None:
    import onnxruntime.quantization  # noqa: F401
    import onnxscript  # noqa: F401


probe_qdq.prepare = _prepare_qdq


def qdq_shares() -> list[str]:
    """From onnxruntime.quantization's registry: the ONNX ops quantized only when their input already is
    (`QDQDirect8BitOp`, and `QDQRemovableActivation`, folded into the op before them)."""
    from onnxruntime.quantization.operators.direct_q8 import QDQDirect8BitOp
    from onnxruntime.quantization.operators.activation import QDQRemovableActivation
    from onnxruntime.quantization.registry import QDQRegistry

    return sorted(op for op, cls in QDQRegistry.items() if issubclass(cls, (QDQDirect8BitOp, QDQRemovableActivation)))


def build_qdq_table(records, probe_meta):
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    from exportlint.tables.probe import harness

    versions = (QDQ_OPSET,)
    probed = harness.merge(records, versions, "onnx_ops")
    harness.mark_fallback(probed, records, versions, harness.stays_float)  # fallback names ONNX ops: the probe's op is blamed
    follow = set(qdq_shares())
    by_name = {r.name: r for r in records}
    shares = [op for op, per_version in probed.items() for e in per_version.values()
              if (rec := by_name.get(e.get("probe", ""))) and rec.op == op and rec.produced
              and set(rec.produced) <= follow]  # every ONNX op it becomes only follows its input
    registry = harness.quant_sources(probed, shares, {})
    for op, per_version in probed.items():  # partly float, but the op that ends it is quantized
        for e in per_version.values():
            if e["status"] == "fallback" and getattr(by_name.get(e.get("probe", "")), "output_quantized", False):
                e["output_quantized"] = True
    return harness.assemble(
        "onnx-qdq", versions, registry, probed, records, probe_meta, generator=__name__,
        generator_version="1", libraries=QDQ.libraries, sources=[
            f"probes: each catalogue op after a quantized producer (x * w), torch.onnx.export(dynamo=True, opset "
            f"{QDQ_OPSET}), {QDQ.call}; a node is quantized when it sits between DequantizeLinear and QuantizeLinear",
            "registry: onnxruntime.quantization.registry QDQRegistry and QLinearOpsRegistry (the op types "
            "quantize_static quantizes by default); QDQDirect8BitOp / QDQRemovableActivation ops: shares_input"],
        registry={"QDQRegistry": sorted(QDQRegistry), "QLinearOpsRegistry": sorted(QLinearOpsRegistry),
                  "shares_input": sorted(follow)},
        dtypes={})
