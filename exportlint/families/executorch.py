"""ExecuTorch: `to_edge_transform_and_lower(ep, partitioner=[...])`, then `to_executorch()`.

Targets: `executorch:xnnpack` (CPU, the default), `executorch:vulkan` (mobile GPU), `executorch:coreml`
(Apple; the Core ML delegate) and `executorch:portable` (no delegate: the portable CPU kernels). An op
a delegate's partitioner does not take still runs, on the portable kernels (status "fallback": a
warning, slower); an op with no kernel at all fails `to_executorch` (or the run). The table
`aten-executorch.json` is proven by one-op models of the probe catalogue, lowered with each partitioner
and, where the runtime runs here (XNNPACK, portable), run in `executorch.runtime` against PyTorch.
"""

from __future__ import annotations

from typing import Any

from exportlint.family import EXPORT_GRAPH, ConversionPath, Family

PARTITIONERS = {  # version -> (module, class) of its partitioner; portable has none
    "xnnpack": ("executorch.backends.xnnpack.partition.xnnpack_partitioner", "XnnpackPartitioner"),
    "vulkan": ("executorch.backends.vulkan.partitioner.vulkan_partitioner", "VulkanPartitioner"),
    "coreml": ("executorch.backends.apple.coreml.partition", "CoreMLPartitioner"),
}
RUNS_HERE = ("xnnpack", "portable")  # executorch.runtime has these kernels on Linux x86
LIBRARIES = ("torch", "executorch", "coremltools")
TABLE = "aten-executorch"
GENERATOR_VERSION = "1"
_NOT_COMPUTE = ("getitem", "executorch_call_delegate")


class ExecuTorch(Family):
    name = "executorch"
    title = "ExecuTorch"
    versions = ("xnnpack", "vulkan", "coreml", "portable")
    default = "xnnpack"
    ordered = False  # delegates, not versions
    paths = (ConversionPath("export", EXPORT_GRAPH, "to_edge_transform_and_lower(ExportedProgram)"),)
    libraries = LIBRARIES
    delegates = ("xnnpack", "vulkan", "coreml")
    docs = ("Lowered with `to_edge_transform_and_lower` and the delegate's partitioner, then "
            "`to_executorch()`; the XNNPACK and portable `.pte` also run in `executorch.runtime`. Per op: "
            "delegated, falls back to the portable kernels (a warning), or fails.")
    runners = {"export": "lower_and_run"}
    # The Core ML delegate compiles at float16 unless told otherwise; Vulkan only with force_fp16.
    fp16 = {"coreml": "lower with CoreMLPartitioner(compile_specs=CoreMLBackend.generate_compile_specs("
                      "compute_precision=ct.precision.FLOAT32))"}
    table = TABLE


def _partitioners(version: str) -> list[Any]:
    import importlib

    if version == "portable":
        return []
    module, name = PARTITIONERS[version]
    return [getattr(importlib.import_module(module), name)()]


def lower(program: Any, version: str) -> tuple[Any, list[str], int]:
    """Lower an ExportedProgram for `version`: (the ExecuTorch program, the edge ops left outside the
    delegate (portable kernels), the number of ops inside it)."""
    from executorch.exir import to_edge_transform_and_lower
    from executorch.exir.lowered_backend_module import get_lowered_submodules

    edge = to_edge_transform_and_lower(program, partitioner=_partitioners(version))
    graph_module = edge.exported_program().graph_module
    portable = [_op_name(n.target) for n in graph_module.graph.nodes
                if n.op == "call_function" and _op_name(n.target) not in _NOT_COMPUTE]
    delegated = sum(1 for _, lowered, _ in get_lowered_submodules(graph_module)
                    for n in lowered.original_module.graph.nodes if n.op == "call_function")
    return edge.to_executorch(), portable, delegated


def _op_name(target: Any) -> str:
    return getattr(target, "__name__", str(target))


def run_pte(buffer: bytes, inputs: tuple, expected: list, compare_values: bool = True) -> str | None:
    """Run the `.pte` in `executorch.runtime`: None when its outputs match PyTorch's, else why not."""
    from executorch.runtime import Runtime

    from exportlint.tables.probe.harness import compare_outputs

    method = Runtime.get().load_program(buffer).load_method("forward")
    return compare_outputs(expected, list(method.execute(list(inputs))), compare_values, "executorch.runtime")


def lower_and_run(subject: Any, target: Any) -> tuple[bool, str]:
    """The `--confirm` check: lower the captured ExportedProgram, then run the `.pte` where it runs here."""
    import torch

    program = subject.program if subject.program is not None else torch.export.export(subject.model, subject.inputs)
    et, portable, delegated = lower(program, target.version)
    detail = delegation_text(target.version, delegated, portable)
    if target.version in RUNS_HERE:
        problem = run_pte(et.buffer, subject.inputs, subject.expected())
        if problem:
            return False, problem
        return True, f"{detail}; the .pte ran in executorch.runtime and matches PyTorch"
    return True, f"{detail} (lowered; the {target.version} runtime does not run here)"


def delegation_text(version: str, delegated: int, portable: list[str]) -> str:
    if version == "portable":
        return f"to_executorch: {len(portable)} ops on the portable kernels"
    total = delegated + len(portable)
    share = f"{delegated / total:.0%}" if total else "n/a"
    rest = f"; portable kernels: {', '.join(sorted(set(portable)))}" if portable else ""
    return f"{delegated} of {total} ops ({share}) delegated to {version}{rest}"


# --- probes and table --------------------------------------------------------------------------


def probe_case(case: Any) -> Any:
    """One catalogue probe, lowered for every version; `fallback[version]` lists the edge ops left to
    the portable kernels."""
    from exportlint.tables.probe.harness import begin_probe, first_line

    record, _, program, inputs, expected = begin_probe(case)
    if program is None:
        return record
    for version in ExecuTorch.versions:
        try:
            et, portable, _ = lower(program, version)
            record.fallback[version] = sorted(set(portable)) if version != "portable" else []
            record.results[version] = (run_pte(et.buffer, inputs, expected, case.deterministic)
                                       if version in RUNS_HERE else None)
        except Exception as exc:  # noqa: BLE001 - the converter's error is the result
            record.results[version] = first_line(exc)
    return record


def _prepare() -> None:
    """Import the lowering stack and every partitioner once per probe worker (a minute, cold)."""
    import executorch.exir  # noqa: F401
    import executorch.runtime  # noqa: F401

    for version in PARTITIONERS:
        _partitioners(version)


probe_case.prepare = _prepare


def build_table(records: list[Any], probe_meta: dict[str, Any]) -> dict[str, Any]:
    from exportlint.tables.probe import harness

    versions = ExecuTorch.versions
    probed = harness.merge(records, versions, "produces")
    harness.mark_fallback(probed, records, ExecuTorch.delegates,
                          "not taken by the {version} partitioner: runs on the portable kernels (slower)")
    return harness.assemble(
        "executorch", versions, {}, probed, records, probe_meta, generator=__name__,
        generator_version=GENERATOR_VERSION, libraries=LIBRARIES, sources=[
            "probes: torch.export, to_edge_transform_and_lower(partitioner=[XnnpackPartitioner() | "
            "VulkanPartitioner() | CoreMLPartitioner()] or none), to_executorch(); xnnpack and portable "
            ".pte run in executorch.runtime and compared with PyTorch"],
        registry={}, dtypes={})
