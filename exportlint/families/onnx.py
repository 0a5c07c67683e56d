"""ONNX: `torch.onnx.export` (the dynamo exporter by default, or the TorchScript exporter), then the
produced opset, `onnx.checker` and ONNX Runtime against PyTorch's outputs."""

from __future__ import annotations

import io

from exportlint.family import EXPORT_GRAPH, TRACE_GRAPH, ConversionPath, Family


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
    docs = ("`torch.onnx.export` of the ExportedProgram (dynamo) and of the module (TorchScript "
            "exporter), then the produced opset, `onnx.checker` and ONNX Runtime against PyTorch.")

    @classmethod
    def runner(cls, path: str):
        return _runner(path) if path in ("dynamo", "torchscript") else None


def export(subject, opset: int, exporter: str = "dynamo"):
    """The ModelProto `torch.onnx.export` makes of `subject` at `opset`: of the captured ExportedProgram
    (dynamo), or of the TorchScript module (the TorchScript exporter)."""
    import logging
    import warnings

    import onnx
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        if exporter == "dynamo":
            source = subject.program if subject.program is not None else subject.model
            args = () if subject.program is not None else subject.inputs
            return torch.onnx.export(source, args, dynamo=True, opset_version=opset, verbose=False).model_proto
        buffer = io.BytesIO()
        torch.onnx.export(subject.traced(), subject.inputs, buffer, dynamo=False, opset_version=opset)
        return onnx.load_from_string(buffer.getvalue())


def _runner(exporter: str):
    def run(subject, target) -> tuple[bool, str]:
        from exportlint.decide import NUMERICS_CAVEAT
        from exportlint.tables.probe.onnx_runner import validate

        opset = int(target.version)
        result = validate(export(subject, opset, exporter), opset, subject.inputs, subject.expected(),
                          deterministic=True)
        if result.reason.startswith("onnxruntime: output differs"):  # it converts: the numbers are a warning
            return True, f"{NUMERICS_CAVEAT}: {result.reason.removeprefix('onnxruntime: ')}"
        if result.status != "supported":
            return False, result.reason
        return True, f"torch.onnx.export(dynamo={exporter == 'dynamo'}) produced {target}; onnx.checker and onnxruntime agree"
    return run
