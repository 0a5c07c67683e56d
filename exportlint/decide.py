"""Decide conversion paths with the real converters, where the tables are not the last word.

`decide` modes (`Options.decide`): "static" runs nothing; "auto" (the default) runs the converter
of each path the tables cannot decide (an op form no probe covered, a missing table), and the ONNX paths'
own translation — `torch.onnx.export` of the ExportedProgram already captured (dynamo) and of the
module (TorchScript exporter), then the produced opset, `onnx.checker` and ONNX Runtime against
PyTorch's outputs: seconds, torch only; "confirm" (`--confirm`) also runs every other installed
converter per path: Core ML (`ct.convert` of the ExportedProgram and of `torch.jit.trace`;
conversion only, prediction needs macOS) and TFLite (`litert_torch.convert`, the ops the flatbuffer
needs, then a run in the LiteRT interpreter; for `tflite:gpu` the GPU-delegate rules on the converted nodes, an estimate without a
device). TensorRT needs a GPU: never run. A converter's answer, when it ran, is the path's verdict.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any, Callable

from exportlint.targets import Target

TRANSLATION, CONVERTER = "translation", "converter"


@dataclass(frozen=True)
class Decision:
    target: str
    path: str
    converted: bool | None  # None: could not run here (missing package, needs a device)
    detail: str  # the converter's one-line error, or what was checked
    by: str  # TRANSLATION or CONVERTER

    def line(self) -> str:
        if self.converted is None:
            return f"[{self.target} {self.path}] not run: {self.detail}"
        return f"[{self.target} {self.path}] {'converted' if self.converted else 'failed'}: {self.detail}"


@dataclass(frozen=True)
class Subject:
    """What the runners convert: the user's module, its example inputs, the ExportedProgram and the
    TorchScript module (traced, or scripted) exportlint captured (None when that capture failed)."""

    model: Any
    inputs: tuple
    program: Any = None
    torchscript: Any = None


def decide(subject: Subject, targets: list[Target], mode: str, undecided: set[tuple[str, str]] = frozenset()
           ) -> list[Decision]:
    """Run the converters `mode` asks for on `subject`, per target and conversion path: in "auto"
    mode the ONNX paths, and the (target, path) pairs in `undecided` (the tables cannot say)."""
    if mode == "static":
        return []
    runs = [(t, p.name, _RUNNERS[t.family, p.name]) for t in targets for p in t.paths("aten")
            if (t.family, p.name) in _RUNNERS
            and (mode == "confirm" or t.family == "onnx" or (str(t), p.name) in undecided)]
    if not runs:
        return []
    training = subject.model.training
    subject.model.eval()  # as captured; restored below
    try:
        return [_run(subject, target, path, runner,
                     TRANSLATION if mode == "auto" and target.family == "onnx" else CONVERTER)
                for target, path, runner in runs]
    finally:
        subject.model.train(training)


def _run(subject: Subject, target: Target, path: str, runner, by: str) -> Decision:
    from exportlint.capture.spec import quiet, user_code

    try:
        with user_code(f"{target} {path}"), quiet():  # converters print, some from C++; stdout is the report
            converted, detail = runner(subject, target)
    except ImportError as exc:
        converted, detail = None, f"{exc.name or exc} is not installed"
    except Exception as exc:  # noqa: BLE001 - the converter's error is the answer
        converted, detail = False, first_line(exc)
    return Decision(str(target), path, converted, detail, by)


def first_line(exc: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # torch.onnx colours its errors
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:400]


def _expected(subject: Subject) -> list:
    import torch

    with torch.no_grad():
        out = subject.model(*subject.inputs)
    return [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]


def _onnx(exporter: str) -> Callable[[Subject, Target], tuple[bool, str]]:
    def run(subject: Subject, target: Target) -> tuple[bool, str]:
        import logging
        import warnings

        import onnx
        import torch

        from exportlint.tables.probe.onnx_runner import validate

        opset = int(target.version)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.getLogger("torch.onnx").setLevel(logging.ERROR)
            if exporter == "dynamo":
                source = subject.program if subject.program is not None else subject.model
                args = () if subject.program is not None else subject.inputs
                proto = torch.onnx.export(source, args, dynamo=True, opset_version=opset,
                                          verbose=False).model_proto
            else:
                buffer = io.BytesIO()
                torch.onnx.export(_torchscript(subject), subject.inputs, buffer, dynamo=False, opset_version=opset)
                proto = onnx.load_from_string(buffer.getvalue())
        result = validate(proto, opset, subject.inputs, _expected(subject), deterministic=True)
        if result.status != "supported":
            return False, result.reason
        return True, f"torch.onnx.export(dynamo={exporter == 'dynamo'}) produced {target}; onnx.checker and onnxruntime agree"
    return run


def _torchscript(subject: Subject) -> Any:
    """The module the TorchScript paths convert: the one captured, else a fresh trace."""
    import torch

    return subject.torchscript or torch.jit.trace(subject.model, subject.inputs, check_trace=False)


def _coreml(path: str) -> Callable[[Subject, Target], tuple[bool, str]]:
    def run(subject: Subject, target: Target) -> tuple[bool, str]:
        import coremltools as ct
        import torch

        if path == "export":
            program = subject.program if subject.program is not None else torch.export.export(
                subject.model, subject.inputs)
            source, kwargs = program.run_decompositions({}), {}
        else:
            source = _torchscript(subject)
            kwargs = {"inputs": [ct.TensorType(shape=tuple(t.shape)) for t in subject.inputs]}
        ct.convert(source, convert_to="mlprogram", skip_model_load=True,
                   minimum_deployment_target=getattr(ct.target, target.version), **kwargs)
        return True, f"coremltools.convert at {target.version} (conversion only: prediction needs macOS)"
    return run


def _tflite(subject: Subject, target: Target) -> tuple[bool, str]:
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
        edge(*subject.inputs)  # the LiteRT interpreter: kernels exist for every op and the model runs
    if target.version == "gpu":
        blockers = gpu_blockers(nodes)
        if blockers:
            return False, "GPU delegate would not take: " + "; ".join(blockers[:3]) + " (estimate, no device)"
        return True, f"litert_torch.convert: all {len(nodes)} nodes fit the GPU delegate (estimate, no device)"
    return True, f"litert_torch.convert: {len(nodes)} nodes, {len(ops)} op kinds"


_RUNNERS: dict[tuple[str, str], Callable[[Subject, Target], tuple[bool, str]]] = {
    ("onnx", "dynamo"): _onnx("dynamo"), ("onnx", "torchscript"): _onnx("torchscript"),
    ("coreml", "export"): _coreml("export"), ("coreml", "trace"): _coreml("trace"),
    ("tflite", "litert"): _tflite,
}
