"""OpenVINO: `ov.convert_model` of the ExportedProgram, compiled and run on the CPU plugin.

Target `openvino:cpu` (the CPU plugin: the one that runs here). The table `aten-openvino.json` is proven
by one-op models of the probe catalogue: converted from their ExportedProgram, compiled for the CPU,
run and compared with PyTorch; `produces` lists the OpenVINO operation types the conversion made.
"""

from __future__ import annotations

from typing import Any

from exportlint.family import EXPORT_GRAPH, ConversionPath, Family

LIBRARIES = ("torch", "openvino")
TABLE = "aten-openvino"
GENERATOR_VERSION = "1"
DEVICE = {"cpu": "CPU"}


class OpenVINO(Family):
    name = "openvino"
    title = "OpenVINO"
    versions = ("cpu",)
    default = "cpu"
    ordered = False  # devices, not versions
    paths = (ConversionPath("export", EXPORT_GRAPH, "ov.convert_model(ExportedProgram)"),)
    libraries = LIBRARIES
    docs = ("Converted with `ov.convert_model` from the ExportedProgram, compiled with `ov.compile_model` "
            "for the CPU plugin and run against PyTorch's outputs.")
    runners = {"export": "convert_and_run"}
    table = TABLE


def convert(program: Any, inputs: tuple, version: str) -> tuple[list[str], list[Any]]:
    """Convert, compile for `version`'s device and run: (OpenVINO op types, outputs)."""
    import openvino as ov

    model = ov.convert_model(program)
    ops = sorted({op.get_type_name() for op in model.get_ops()} - {"Parameter", "Result", "Constant"})
    compiled = ov.compile_model(model, DEVICE[version])
    result = compiled([t.detach().numpy() for t in inputs])
    return ops, [result[out] for out in compiled.outputs]


def convert_and_run(subject: Any, target: Any) -> tuple[bool, str]:
    """The `--confirm` check: convert the captured ExportedProgram, compile, run, compare."""
    import torch

    from exportlint.decide import ran
    from exportlint.tables.probe.harness import compare_outputs

    program = subject.program if subject.program is not None else torch.export.export(subject.model, subject.inputs)
    ops, outputs = convert(program, subject.inputs, target.version)
    return ran(compare_outputs(subject.expected(), outputs, True, "OpenVINO"),
               f"ov.convert_model: {len(ops)} OpenVINO op types; compiled and ran on {DEVICE[target.version]}")


def probe_case(case: Any) -> Any:
    from exportlint.tables.probe.harness import begin_probe, compare_outputs, first_line

    record, _, program, inputs, expected = begin_probe(case)
    if program is None:
        return record
    for version in OpenVINO.versions:
        try:
            record.produced, got = convert(program, inputs, version)
            record.results[version] = compare_outputs(expected, got, case.deterministic, "OpenVINO")
        except Exception as exc:  # noqa: BLE001 - the converter's error is the result
            record.results[version] = first_line(exc)
    return record


def fx_op_table() -> tuple[str, frozenset[str]]:
    """The ATen overloads the PyTorch frontend translates from an FX graph (its C++ FX op table, read
    from the frontend library's strings): (library file name, ops)."""
    import re
    from pathlib import Path

    import openvino

    library = min((Path(openvino.__file__).parent / "libs").glob("libopenvino_pytorch_frontend.so*"))
    names = re.findall(rb"aten\.[a-z_0-9]+\.[A-Za-z_0-9]+(?=\0)", library.read_bytes())
    return library.name, frozenset(n.decode() for n in names)


def registry_entries(fx_ops: frozenset[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """A claim per functional ATen overload, for the ops no probe contains ("unverified": `decide`
    converts for real where a model has one)."""
    from exportlint.tables.probe import harness

    ops = {}
    for overload in harness.aten_overloads():
        key = str(overload)
        reason = ("in the PyTorch frontend's FX op table (not probed)" if key in fx_ops else
                  "not in the PyTorch frontend's FX op table: converts only where ov.convert_model "
                  "decomposes it first (not probed)")
        ops[key] = {"*": {"status": "unverified", "evidence": "registry", "reason": reason}}
    return ops


def build_table(records: list[Any], probe_meta: dict[str, Any]) -> dict[str, Any]:
    from exportlint.tables.probe import harness

    library, fx_ops = fx_op_table()
    return harness.assemble(
        "openvino", OpenVINO.versions, registry_entries(fx_ops), harness.merge(records, OpenVINO.versions, "produces"),
        records, probe_meta, generator=__name__, generator_version=GENERATOR_VERSION, libraries=LIBRARIES, sources=[
            f"registry: the FX op table of openvino/libs/{library} (get_supported_ops_fx)",
            "probes: torch.export, openvino.convert_model(ExportedProgram), compile_model(CPU), run and "
            "compared with PyTorch"],
        registry={"fx_ops": len(fx_ops)}, dtypes={})
