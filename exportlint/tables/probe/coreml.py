"""Core ML probe: convert a one-op model with coremltools (conversion only: prediction needs macOS).

Each probe converts at every target iOS15..iOS18, so the table knows the first target that converts
(upgrade hints). coremltools needs `run_decompositions({})` on the ExportedProgram.
"""

from __future__ import annotations

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
