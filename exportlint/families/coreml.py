"""Core ML: `coremltools.convert` of the ExportedProgram or of a `torch.jit.trace` (conversion only:
prediction needs macOS)."""

from __future__ import annotations

from exportlint.family import EXPORT_GRAPH, TRACE_GRAPH, ConversionPath, Family


class CoreML(Family):
    name = "coreml"
    title = "Core ML"
    versions = ("iOS15", "iOS16", "iOS17", "iOS18")
    default = "iOS16"
    paths = (ConversionPath("export", EXPORT_GRAPH, "ct.convert(ExportedProgram.run_decompositions({}))"),
             ConversionPath("trace", TRACE_GRAPH, "ct.convert(torch.jit.trace(model, inputs))"))
    libraries = ("torch", "coremltools")
    generators = ("aten_coreml", "torchscript_coreml")
    docs = ("`ct.convert` of the ExportedProgram and of `torch.jit.trace` at the deployment target "
            "(conversion only: prediction needs macOS).")

    # An ML Program (every version here) computes in float16 unless told otherwise.
    fp16 = {v: "convert with compute_precision=ct.precision.FLOAT32 (or ct.transform.FP16ComputePrecision("
               "op_selector=...) to keep only this op in float32)" for v in versions}
    unbounded_dims = ("warning", "Core ML runs unbounded flexible shapes on the CPU only; give a range "
                              "({hint}, ct.RangeDim(MIN, MAX))")

    @classmethod
    def runner(cls, path: str):
        return (lambda subject, target: _convert(path, subject, target)) if path in ("export", "trace") else None


def _convert(path: str, subject, target) -> tuple[bool, str]:
    import coremltools as ct
    import torch

    if path == "export":
        program = subject.program if subject.program is not None else torch.export.export(
            subject.model, subject.inputs)
        source, kwargs = program.run_decompositions({}), {}
    else:
        from exportlint.tables.probe.coreml import tensor_type

        source = subject.user_trace()
        kwargs = {"inputs": [tensor_type(t) for t in subject.inputs]}  # int64 declared int32, as a user must
    ct.convert(source, convert_to="mlprogram", skip_model_load=True,
               minimum_deployment_target=getattr(ct.target, target.version), **kwargs)
    return True, f"coremltools.convert at {target.version} (conversion only: prediction needs macOS)"
