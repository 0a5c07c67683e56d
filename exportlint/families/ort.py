"""ONNX Runtime's mobile execution providers: the exported ONNX model in an ORT session with the NNAPI EP
(Android) or the Core ML EP (Apple; ML Program or NeuralNetwork format).

Targets `ort:nnapi`, `ort:coreml`, `ort:coreml-nn`. The session always loads: a node the EP does not take
runs on the CPU EP (status "fallback", a warning), and the model is split into partitions with a copy at
each boundary. The EPs need Android or macOS; what is run here is ONNX Runtime's own mobile usability checker
(`check_onnx_model_mobile_usability`) on the exported model: `torch.onnx.export(dynamo=True)` at opset 17,
ORT's basic graph optimizations (they rewrite some ops before the EPs see them), then the EP support lists
onnxruntime ships. Tables: `aten-ort.json`, proven by one-op models of the probe catalogue run through that
pipeline; `onnx-ort.json` (ONNX model files, and TensorFlow through ONNX), the support lists themselves.
"""

from __future__ import annotations

from typing import Any

from exportlint.family import EXPORT_GRAPH, ConversionPath, Family

MAX_RANK = {"coreml": 5, "coreml-nn": 5}  # the usability checker's rank limit per EP
OPSET = "17"
LIBRARIES = ("torch", "onnx", "onnxscript", "onnxruntime")
TABLE = "aten-ort"
GENERATOR_VERSION = "1"


class ORTMobile(Family):
    name = "ort"
    title = "ONNX Runtime mobile EPs"
    versions = ("nnapi", "coreml", "coreml-nn")
    default = "nnapi"
    ordered = False  # execution providers, not versions
    paths = (ConversionPath("dynamo", EXPORT_GRAPH, "torch.onnx.export(dynamo=True), then an ORT session"),)
    via = "onnx"  # from TensorFlow (tf2onnx) and ONNX files
    via_versions = dict.fromkeys(versions, OPSET)
    libraries = LIBRARIES
    delegates = versions
    runners = {"dynamo": "check_partitions"}
    # ORT's basic optimizations fuse BatchNormalization into the Conv before it (ConvBNFusion).
    folds = {"aten.batch_norm.default": ("aten.conv1d.default", "aten.conv2d.default", "aten.conv3d.default",
                                         "aten.convolution.default")}
    table = TABLE
    generators = ("onnx_ort",)
    version_words = "the {version} EP"
    docs = ("ONNX Runtime's mobile usability checker on the exported ONNX (opset 17, after ORT's basic "
            "optimizations), with the EP support lists onnxruntime ships (`tools/mobile_helpers/"
            "*_supported_ops.md`): per node taken by the EP or left to the CPU EP (a warning), and the model's "
            "partitions.")

    @classmethod
    def dynamic_problem(cls, dim, version: str) -> tuple[str, str] | None:
        if version == "nnapi":
            return "warning", ("NNAPI takes only nodes whose input shapes are fixed: nodes that see this dim run "
                               "on the CPU EP (fix it with python -m onnxruntime.tools.make_dynamic_shape_fixed)")
        return None


def partitions(model: Any, version: str) -> Any:
    """ONNX Runtime's usability checker on `model` (shapes inferred): its `PartitioningInfo` for the EP."""
    from onnxruntime.tools.mobile_helpers import usability_checker

    from exportlint.tables.generate.onnx_ort import support_file

    checker = usability_checker._SupportedOpsChecker(support_file(version))
    return usability_checker.check_partitioning(model.graph, checker, require_fixed_input_sizes=True,
                                                max_rank=MAX_RANK.get(version, 999))


def checked(proto: Any) -> tuple[Any, dict[str, Any]]:
    """As `check_onnx_model_mobile_usability` does: ORT's basic optimizations (a CPU session loads the model),
    shapes inferred, then the checker per EP: (the optimized model, {version: PartitioningInfo})."""
    import pathlib
    import tempfile

    import onnx
    from onnxruntime.tools.onnx_model_utils import ModelProtoWithShapeInfo, optimize_model

    with tempfile.TemporaryDirectory() as tmp:
        raw, optimized = pathlib.Path(tmp, "model.onnx"), pathlib.Path(tmp, "optimized.onnx")
        onnx.save(proto, raw, save_as_external_data=proto.ByteSize() > 2**31 - 1)
        optimize_model(raw, optimized, use_external_initializers=True)
        model = ModelProtoWithShapeInfo(optimized).model_with_shape_info
        return model, {v: partitions(model, v) for v in ORTMobile.versions}


def check_partitions(subject: Any, target: Any) -> tuple[bool, str]:
    """The real check for a model: export, then `checked`. The session loads whatever the EP takes."""
    from exportlint.families.onnx import export
    from exportlint.tables.generate.onnx_ort import EP_NAMES

    info = checked(export(subject, int(OPSET)))[1][target.version]
    left = f"; left to the CPU EP: {', '.join(sorted(info.unsupported_ops))}" if info.unsupported_ops else ""
    return True, (f"ONNX Runtime's usability checker: the {EP_NAMES[target.version]} EP takes "
                  f"{info.num_supported_nodes} of {info.num_nodes} nodes in {info.num_partitions} partition(s){left}")


# --- probes and table --------------------------------------------------------------------------


def probe_case(case: Any) -> Any:
    """One catalogue probe through `checked`; `fallback[version]` lists the ONNX ops the EP left to the CPU EP."""
    import torch

    from exportlint.tables.probe.harness import begin_probe, first_line

    record, _, program, _, _ = begin_probe(case)
    if program is None:
        return record
    try:
        model, infos = checked(torch.onnx.export(program, (), dynamo=True, opset_version=int(OPSET),
                                                 verbose=False).model_proto)
    except Exception as exc:  # noqa: BLE001 - the exporter's or ORT's error is the result
        record.results = dict.fromkeys(ORTMobile.versions, first_line(exc))
        return record
    record.produced = sorted({f"{n.domain or 'ai.onnx'}::{n.op_type}" for n in model.graph.node})
    for version, info in infos.items():
        record.results[version] = None
        record.fallback[version] = sorted(op.replace(":", "::", 1) for op in info.unsupported_ops)
    return record


def registry_entries() -> dict[str, dict[str, dict[str, Any]]]:
    """Claims for the ATen overloads no probe contains: those the ONNX table (opset 17) rejects do not export;
    the rest are "unverified" (`decide` runs the checker where a model has one)."""
    from exportlint.tables import Status, support
    from exportlint.tables.probe import harness
    from exportlint.targets import Target

    ops = {}
    for overload in harness.aten_overloads():
        onnx = support(str(overload), Target("onnx", OPSET), "aten")
        dynamo = onnx.exporters.get("dynamo", onnx.status.value)
        ops[str(overload)] = {"*": {"status": "unsupported", "evidence": onnx.evidence or "registry",
                                    "reason": f"torch.onnx.export(dynamo=True) fails at opset {OPSET}: "
                                              f"{onnx.reason or 'per aten-onnx.json'}"}
                              if dynamo == Status.UNSUPPORTED.value else
                              {"status": "unverified", "evidence": "registry",
                               "reason": "not probed through the EP checker"}}
    return ops


def build_table(records: list[Any], probe_meta: dict[str, Any]) -> dict[str, Any]:
    from exportlint.tables.probe import harness

    versions = ORTMobile.versions
    probed = harness.merge(records, versions, "produces")
    harness.mark_fallback(probed, records, ORTMobile.delegates, "the {version} EP leaves it to the CPU EP")
    return harness.assemble(
        "ort", versions, registry_entries(), probed, records, probe_meta, generator=__name__,
        generator_version=GENERATOR_VERSION, libraries=LIBRARIES, sources=[
            f"probes: torch.export, torch.onnx.export(dynamo=True, opset {OPSET}), onnxruntime.tools."
            "onnx_model_utils.optimize_model (basic), onnxruntime.tools.mobile_helpers.usability_checker."
            "check_partitioning with each EP's *_supported_ops.md",
            "registry: aten-onnx.json at opset 17 (ops that do not export)"],
        registry={}, dtypes={})
