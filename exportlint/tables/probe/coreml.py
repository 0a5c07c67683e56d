"""Core ML probe: convert a one-op model with coremltools (conversion only: prediction needs macOS).

Each probe converts at every target iOS15..iOS18, so the table knows the first target that converts
(upgrade hints). Two paths, as users call them:
- `probe_case` (export path, `aten-coreml`): coremltools needs `run_decompositions({})` on the
  ExportedProgram;
- `probe_trace_case` (trace path, `torchscript-coreml`): `ct.convert(torch.jit.trace(m, args),
  inputs=[ct.TensorType(shape=...)])`; the record's ops are the traced graph's node kinds, and a
  failure is blamed on the op the error names ("convert function for op 'X' not implemented").
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from exportlint.tables.probe.harness import ProbeRecord, first_line

if TYPE_CHECKING:
    from exportlint.tables.probe.catalog import OneOp

TARGETS = ("iOS15", "iOS16", "iOS17", "iOS18")


def probe_case(case: OneOp) -> ProbeRecord:
    import coremltools as ct

    from exportlint.tables.probe.catalog import exported_ops

    module, inputs = case.build()
    record = ProbeRecord(name=case.name, op=case.op, conditions=case.conditions)
    try:
        ep, record.ops = exported_ops(module, inputs)
        ep = ep.run_decompositions({})
    except Exception as exc:  # noqa: BLE001 - not exportable: the probe says nothing about Core ML
        record.error = f"torch.export: {first_line(exc)}"
        return record

    def convert(target: str) -> str | None:
        try:
            mlmodel = ct.convert(ep, convert_to="mlprogram", skip_model_load=True,
                                 minimum_deployment_target=getattr(ct.target, target))
        except Exception as exc:  # noqa: BLE001 - the converter's error is the result
            return first_line(exc)
        if not record.produced:
            record.produced = sorted({op.op_type for f in mlmodel._mil_program.functions.values()
                                      for op in f.operations if op.op_type != "const"})
        return None

    record.results = {target: convert(target) for target in TARGETS}
    return record


# --- the trace path: ct.convert(torch.jit.trace(m, args), inputs=[ct.TensorType(shape=...)]) ----

_NOT_IMPLEMENTED = re.compile(r"convert function for op '([^']+)' not implemented")


def blamed_kind(reason: str, kinds: list[str]) -> str | None:
    """The traced kind a coremltools error names ("convert function for op 'X' not implemented"),
    matched the way its registry sanitises node kinds."""
    from coremltools.converters.mil.frontend.torch.utils import sanitize_op_kind

    named = _NOT_IMPLEMENTED.search(reason or "")
    if named is None:
        return None
    return next((k for k in kinds if sanitize_op_kind(k) == named[1]), None)


def tensor_type(t):
    """The input description a user writes for a traced module: the shape, and the dtype for
    non-float inputs (Core ML inputs are 32-bit: int64 -> int32)."""
    import coremltools as ct
    import numpy as np
    import torch

    if t.is_floating_point():
        return ct.TensorType(shape=tuple(t.shape))
    return ct.TensorType(shape=tuple(t.shape), dtype=np.bool_ if t.dtype is torch.bool else np.int32)


def probe_trace_case(case: OneOp) -> ProbeRecord:
    import coremltools as ct

    from exportlint.tables.probe.catalog import torchscript_kind, traced_ops

    record = ProbeRecord(name=case.name, op=torchscript_kind(case.op), conditions=case.conditions)
    module, inputs = case.build()
    try:
        traced, record.ops = traced_ops(module, inputs)
    except Exception as exc:  # noqa: BLE001 - not traceable: the probe says nothing about Core ML
        record.error = f"torch.jit.trace: {first_line(exc)}"
        return record
    types = [tensor_type(t) for t in inputs]

    def convert(target: str) -> str | None:
        try:
            mlmodel = ct.convert(traced, inputs=types, convert_to="mlprogram", skip_model_load=True,
                                 minimum_deployment_target=getattr(ct.target, target))
        except Exception as exc:  # noqa: BLE001 - the converter's error is the result
            return first_line(exc)
        if not record.produced:
            record.produced = sorted({op.op_type for f in mlmodel._mil_program.functions.values()
                                      for op in f.operations if op.op_type != "const"})
        return None

    record.results = {target: convert(target) for target in TARGETS}
    blamed = {blamed_kind(r, record.ops) for r in record.results.values() if r is not None} - {None}
    if len(blamed) == 1:
        record.op = blamed.pop()
    return record
