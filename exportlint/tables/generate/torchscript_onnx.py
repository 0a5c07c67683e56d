"""`torchscript-onnx.json`: which TorchScript node kinds the TorchScript exporter
(`torch.onnx.export(..., dynamo=False)`) exports at opsets 9..23.

That exporter traces the model with torch.jit.trace and translates the TorchScript graph
(`exportlint.capture.pytorch.trace_graph` captures the same graph), not torch.export's ATen graph:
keys are node kinds (`aten::relu_`, `aten::_convolution`, `prim::If`).

Claims come from its symbolic registry per opset
(`torch.onnx._internal.torchscript_exporter.registration.registry`, after
`torch.onnx.utils._trigger_symbolic_function_registration()`), looked up the way
`_run_symbolic_function` does: a kind ending in `_` is looked up without it (`aten::relu_` ->
`aten::relu`, and so `aten::__and__` -> `aten::__and_`). No symbolic at an opset: "unsupported"
(evidence "registry"). A symbolic whose body only raises (`_onnx_unsupported`,
`_onnx_opset_unsupported`, ...: `_unique` everywhere, `cumsum` before 11) is "unsupported" too.
The exporter's graph passes erase number plumbing (`aten::Int`, `aten::ScalarImplicit`, ...) before
any symbolic runs: those are "unverified" (no symbolic needed) until a probe proves them.

Proof comes from probes, without re-exporting: the ONNX probe records
(`rules/probes/aten-onnx.json`, `exportlint.tables.probe.onnx_runner`) already hold this exporter's
result per probe and opset (a real `torch.onnx.export(dynamo=False, opset_version=N)`, then
opset check, `onnx.checker` and ONNX Runtime numerics). They key it by the probe's torch.export ops,
which is the wrong graph for this exporter; `probe_case` re-traces each catalogue probe (same
builder, same inputs: the graph the exporter traced) and pairs the traced node kinds with the
stored results. A probe missing from those records is exported for real (`onnx_runner.
probe_torchscript`, which reuses `validate`). `--probe` writes the paired records to
`rules/probes/torchscript-onnx.json`; without it the table is built from that file. A failure is
blamed, opset by opset, on the kind the exporter's error names ("Exporting the operator
'aten::X'", "Unsupported: ONNX export of X").
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exportlint.tables.generate import aten_onnx
from exportlint.tables.probe import harness
from exportlint.tables.probe.harness import ProbeRecord

if TYPE_CHECKING:
    from exportlint.tables.probe.catalog import OneOp

GENERATOR_VERSION = "1"
VERSIONS = tuple(str(n) for n in aten_onnx.OPSETS)
LIBRARIES = aten_onnx.LIBRARIES
NAME = "torchscript-onnx"
PROBE_FN = "exportlint.tables.generate.torchscript_onnx:probe_case"
# Number plumbing `_jit_pass_erase_number_types` / `_jit_pass_onnx_peephole` remove before symbolics,
# and dict outputs (`strict=False` traces), which the exporter flattens into graph outputs.
ERASED_BY_PASSES = frozenset({"aten::Int", "aten::Float", "aten::ScalarImplicit", "aten::IntImplicit",
                              "aten::FloatImplicit", "aten::Bool", "prim::DictConstruct"})
_RAISERS = frozenset({"_onnx_unsupported", "_onnx_opset_unsupported", "_onnx_opset_unsupported_detailed",
                      "_unimplemented"})
_NAMED = (re.compile(r"Exporting the operator '([\w:]+)'"),
          re.compile(r"Unsupported: ONNX export of (?:operator )?([\w:]+)"))


# --- claims ------------------------------------------------------------------------------------

@cache
def _registry():
    import torch.onnx.utils
    from torch.onnx._internal.torchscript_exporter import registration

    torch.onnx.utils._trigger_symbolic_function_registration()
    return registration.registry


def symbolic_name(kind: str) -> str:
    """The registry key the exporter looks a node kind up by (`_run_symbolic_function`)."""
    return kind[:-1] if kind.endswith("_") else kind


@cache
def always_raises(func: Any) -> str | None:
    """The helper a symbolic function's whole body calls to raise (or "raise"), else None."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(func))))
    except (OSError, TypeError, SyntaxError):
        return None
    fn = tree.body[0]
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) != 1:
        return None
    (stmt,) = body
    if isinstance(stmt, ast.Raise):
        return "raise"
    if isinstance(stmt, (ast.Return, ast.Expr)) and isinstance(stmt.value, ast.Call):
        callee = stmt.value.func
        name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
        return name if name in _RAISERS else None
    return None


def claim(kind: str, opset: int) -> dict[str, Any]:
    name = symbolic_name(kind)
    group = _registry().get_function_group(name)
    func = group.get(opset) if group is not None else None
    folded = f" ({kind} is looked up as {name})" if name != kind else ""
    if func is not None:
        raiser = always_raises(func)
        if raiser:
            return {"status": "unsupported", "evidence": "registry", "reason": (
                f"the symbolic function registered for {name} at this opset always raises ({raiser})")}
        return {"status": "unverified", "evidence": "registry",
                "reason": f"symbolic function registered for {name}{folded} (not probed)"}
    if kind in ERASED_BY_PASSES:
        return {"status": "unverified", "evidence": "registry", "reason": (
            f"no symbolic function: the exporter's graph passes remove {kind} before symbolics run")}
    if kind == "prim::PythonOp":
        return {"status": "unverified", "evidence": "registry", "reason": (
            "a torch.autograd.Function: exported only if it defines a `symbolic` staticmethod")}
    if group is not None:
        return {"status": "unsupported", "evidence": "registry", "reason": (
            f"{name} has a symbolic function from opset {group.get_min_supported()} only")}
    return {"status": "unsupported", "evidence": "registry", "reason": f"no symbolic function for {name}{folded}"}


def registry_entries() -> dict[str, dict[str, dict[str, Any]]]:
    return {kind: harness.collapse({v: claim(kind, int(v)) for v in VERSIONS}, VERSIONS)
            for kind in harness.torchscript_kinds()}


def registry_counts() -> dict[str, Any]:
    registry = _registry()
    return {"symbolic_names": len(registry.all_functions()),
            "per_opset": {v: sum(registry.is_registered_op(n, int(v)) for n in registry.all_functions())
                          for v in VERSIONS}}


# --- probes: stored torchscript-exporter results + re-traced node kinds ---------------------------

@cache
def _stored() -> dict[str, Any]:
    from exportlint.tables.probe import onnx_runner

    return onnx_runner.load_results(aten_onnx.PROBES_PATH)


def probe_case(case: OneOp) -> ProbeRecord:
    """The TorchScript exporter's results for one catalogue probe, keyed by its traced node kinds."""
    import torch

    from exportlint.tables.probe import onnx_runner
    from exportlint.tables.probe.catalog import torchscript_kind, traced_ops

    record = ProbeRecord(name=case.name, op=torchscript_kind(case.op), conditions=case.conditions)
    module, inputs = case.build()
    try:
        _, record.ops = traced_ops(module, inputs)
    except Exception as exc:  # noqa: BLE001 - not traceable: the exporter cannot trace it either
        record.error = f"torch.jit.trace: {harness.first_line(exc)}"
        return record
    stored = _stored().get(case.name)
    results = (stored.results.get("torchscript") if stored else None) or {}
    if set(results) != set(VERSIONS):  # not in the ONNX records: export it for real
        onnx_runner._quiet()
        with torch.no_grad():
            expected = onnx_runner._flat_outputs(module(*inputs))
        results = onnx_runner.probe_torchscript(module, inputs, expected, case.deterministic)
        record.note = "exported here (not in rules/probes/aten-onnx.json)"
    else:
        record.note = "results from rules/probes/aten-onnx.json (torchscript exporter)"
    record.results = {v: None if results[v].status == "supported" else results[v].reason for v in VERSIONS}
    first_ok = next((results[v] for v in VERSIONS if results[v].status == "supported"), None)
    record.produced = list(first_ok.onnx_ops) if first_ok else []
    return record


def blamed_kind(reason: str, kinds: list[str]) -> str | None:
    """The traced kind the exporter's error names, if one of `kinds`."""
    for pattern in _NAMED:
        named = pattern.search(reason or "")
        if named:
            name = named[1] if "::" in named[1] else f"aten::{named[1]}"
            return next((k for k in kinds if symbolic_name(k) == symbolic_name(name) or k == name), None)
    return None


def split_by_blame(records: list[ProbeRecord]) -> list[ProbeRecord]:
    """Each record as one record per blamed kind: the opsets whose error names a kind of the graph
    are blamed on it (the rest stay with the probe's own op), so `harness.merge` does not blame the
    whole graph for a failure the exporter pins on one op."""
    out = []
    for rec in records:
        groups: dict[str, dict[str, str | None]] = {}
        for v, reason in rec.results.items():
            op = blamed_kind(reason, rec.ops) if reason is not None else None
            groups.setdefault(op or rec.op, {})[v] = reason
        out.extend(replace(rec, op=op, results=results) for op, results in groups.items())
    return out


def build_table(records: list[ProbeRecord], probe_meta: dict[str, Any]) -> dict[str, Any]:
    probed = harness.merge(split_by_blame(records), VERSIONS, "onnx_ops")
    for per_version in probed.values():
        for entry in per_version.values():
            entry["via"] = "torchscript" if entry["status"] == "supported" else ""
    return harness.assemble(
        "onnx", VERSIONS, registry_entries(), probed, records, probe_meta,
        generator=__name__, generator_version=GENERATOR_VERSION, libraries=LIBRARIES, sources=[
            "torch.onnx._internal.torchscript_exporter.registration.registry (after "
            "torch.onnx.utils._trigger_symbolic_function_registration())",
            "torch._C._jit_get_all_schemas (the aten:: and prim:: node kinds)",
            f"rules/probes/{NAME}.json: traced node kinds of each catalogue probe, paired with the "
            "torchscript exporter's results in rules/probes/aten-onnx.json (torch.onnx.export("
            "dynamo=False, opset_version=N) + onnx.checker + onnxruntime)",
        ],
        registry=registry_counts(), dtypes=aten_onnx.DTYPES, dialect="torchscript")


def generate(out_dir: Path, probe: bool) -> list[Path]:
    return [harness.generate_table(out_dir, NAME, PROBE_FN if probe else None, LIBRARIES, build_table)]

