"""Confirm mode: run the real converter of each target and compare with the static verdict.

ONNX: `torch.onnx.export(opset_version=N)` with the default (dynamo) and the legacy exporter, then the
produced opset, `onnx.checker` and ONNX Runtime against PyTorch's outputs; confirmed when either works. Core ML: `coremltools.convert` at the deployment target
(conversion only: prediction needs macOS). TFLite: `litert_torch.convert`, then the ops the flatbuffer
needs (custom / select-TF); for `tflite:gpu` the GPU-delegate op and dtype rules applied to the
converted nodes (an estimate: no device here). TensorRT: not run (needs a GPU and TensorRT).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

from exportlint.report import Report
from exportlint.targets import Target


@dataclass(frozen=True)
class Confirmation:
    target: str
    converted: bool | None  # None: could not run here (missing package, needs a device)
    detail: str  # the converter's one-line error, or what was checked
    static_exportable: bool

    @property
    def disagrees(self) -> bool:
        return self.converted is not None and self.converted != self.static_exportable

    def line(self) -> str:
        if self.converted is None:
            return f"[{self.target}] not confirmed: {self.detail}"
        outcome = "converted" if self.converted else "converter failed"
        note = ""
        if self.disagrees:
            note = (" (static check said exportable)" if self.static_exportable
                    else " (static check said blocked: the static verdict may be conservative)")
        return f"[{self.target}] {outcome}{note}: {self.detail}"


def confirm(model: Any, inputs: tuple, targets: list[Target], report: Report) -> list[Confirmation]:
    """Run each target's converter on `model`; `report` holds the static verdicts of this model."""
    static = {t.target: t.exportable for m in report.models for t in m.targets}
    training = getattr(model, "training", False)
    model.eval()  # as captured; restored below
    try:
        return [_run(model, inputs, target, static.get(str(target), True)) for target in targets]
    finally:
        model.train(training)


def _run(model: Any, inputs: tuple, target: Target, static_exportable: bool) -> Confirmation:
    runner = _RUNNERS.get(target.family)
    try:
        with _stdout_to_stderr():  # converters print progress, some from C++; stdout is the report
            converted, detail = runner(model, inputs, target) if runner else (None, "no converter to run here")
    except ImportError as exc:
        converted, detail = None, f"{exc.name or exc} is not installed"
    except Exception as exc:  # noqa: BLE001 - the converter's error is the answer
        converted, detail = False, _first_line(exc)
    return Confirmation(str(target), converted, detail, static_exportable)


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send everything written to file descriptor 1 (Python or native code) to 2 meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _expected(model: Any, inputs: tuple) -> list:
    import torch

    with torch.no_grad():
        out = model(*inputs)
    return [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]


def onnx_exports(model: Any, inputs: tuple, opset: int) -> dict[str, str]:
    """Per torch exporter (default `dynamo`, legacy `torchscript`): "supported" when it produced a model
    at opset <= `opset` that onnx.checker accepts and ONNX Runtime runs with PyTorch's numbers, else why
    not (the first line of the error)."""
    import io

    import onnx
    import torch

    from exportlint.tables.probe.onnx_runner import validate

    expected = _expected(model, inputs)
    out = {}
    for exporter in ("dynamo", "torchscript"):
        try:
            if exporter == "dynamo":
                proto = torch.onnx.export(model, inputs, dynamo=True, opset_version=opset, verbose=False).model_proto
            else:
                buffer = io.BytesIO()
                torch.onnx.export(model, inputs, buffer, dynamo=False, opset_version=opset)
                proto = onnx.load_from_string(buffer.getvalue())
        except Exception as exc:  # noqa: BLE001 - a failed export is the verdict
            out[exporter] = f"export failed: {_first_line(exc)}"
            continue
        result = validate(proto, opset, inputs, expected, deterministic=True)
        out[exporter] = result.status if result.status == "supported" else result.reason
    return out


def _onnx(model: Any, inputs: tuple, target: Target) -> tuple[bool, str]:
    verdicts = onnx_exports(model, inputs, int(target.version))
    reached = [e for e, v in verdicts.items() if v == "supported"]
    if reached:
        return True, f"{' and '.join(reached)} exporter(s) produced {target}; onnx.checker and onnxruntime agree"
    return False, "; ".join(f"{e}: {v}" for e, v in verdicts.items())


def _coreml(model: Any, inputs: tuple, target: Target) -> tuple[bool, str]:
    import coremltools as ct
    import torch

    program = torch.export.export(model, inputs).run_decompositions({})
    ct.convert(program, convert_to="mlprogram", skip_model_load=True,
               minimum_deployment_target=getattr(ct.target, target.version))
    return True, f"coremltools.convert at {target.version} (conversion only: prediction needs macOS)"


def _tflite(model: Any, inputs: tuple, target: Target) -> tuple[bool, str]:
    import litert_torch

    from exportlint.tables.probe.litert import gpu_blockers, read_tflite

    ops, nodes = read_tflite(litert_torch.convert(model, inputs).model_content())
    custom = [op.removeprefix("CUSTOM:") for op in ops if op.startswith("CUSTOM:")]
    if target.version == "select":
        custom = [op for op in custom if not op.startswith("Flex")]
    if custom:
        return False, f"litert_torch.convert needs ops outside {target}: {', '.join(custom)}"
    if target.version == "gpu":
        blockers = gpu_blockers(nodes)
        if blockers:
            return False, "GPU delegate would not take: " + "; ".join(blockers[:3]) + " (estimate, no device)"
        return True, f"litert_torch.convert: all {len(nodes)} nodes fit the GPU delegate (estimate, no device)"
    return True, f"litert_torch.convert: {len(nodes)} nodes, {len(ops)} op kinds"


_RUNNERS: dict[str, Callable[[Any, tuple, Target], tuple[bool, str]]] = {
    "onnx": _onnx, "coreml": _coreml, "tflite": _tflite,
}
