"""TensorRT: reached through ONNX (either exporter's ONNX, then TensorRT's ONNX parser). Needs a GPU:
never run here."""

from __future__ import annotations

from exportlint.family import EXPORT_GRAPH, TRACE_GRAPH, ConversionPath, Family


class TensorRT(Family):
    name = "tensorrt"
    title = "TensorRT"
    versions = ("8.6", "10")
    default = "10"
    paths = (ConversionPath("dynamo", EXPORT_GRAPH, "torch.onnx.export(dynamo=True), then TensorRT"),
             ConversionPath("torchscript", TRACE_GRAPH, "torch.onnx.export(dynamo=False), then TensorRT"))
    # TensorRT parses ONNX: judged through each exporter's ONNX (its table, then onnx-tensorrt's). Its ONNX
    # parser reads ONNX up to opset 17 (8.6) / 20 (10.x), per onnx-tensorrt's docs.
    via = "onnx"
    via_versions = {"8.6": "17", "10": "20"}
    generators = ("onnx_tensorrt",)
    unbounded_dims = ("error", "TensorRT needs an optimization profile (min/opt/max) for each dynamic dim; "
                               "give a range ({hint})")
    version_words = "TensorRT {version}"
    docs = ("Through the ONNX tables (the opset TensorRT's parser reads) and onnx-tensorrt's operator "
            "support; never run (needs a GPU).")
