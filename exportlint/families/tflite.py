"""TFLite / LiteRT: `litert_torch.convert`, the ops the flatbuffer needs, a run in the LiteRT
interpreter; for `tflite:gpu` the GPU-delegate rules on the converted nodes (an estimate, no device)."""

from __future__ import annotations

from exportlint.family import EXPORT_GRAPH, ConversionPath, Family


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
