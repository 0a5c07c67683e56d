"""ONNX probe runner: convert each catalogue probe with both torch.onnx exporters at opsets 9..23.

A verdict for opset N is *supported* only if a model came out whose default-domain `opset_import`
is <= N, `onnx.checker.check_model(full_check=True)` accepts it, and ONNX Runtime runs it with
outputs matching PyTorch. Anything else is *unsupported* with a one-line reason.

Dynamo exporter, cheaply: torch 2.13's `torch.onnx.export(dynamo=True, opset_version=N)` builds the
model with the torchlib registry at max(N, 18), then calls
`onnxscript._framework_apis.torch_2_11.convert_version(model, N)` (onnxscript's version converter
with `fallback=True`: on failure it leaves the model at 18, silently) and then `optimize`. We export
once at 18 without optimizing and replay convert_version + optimize per opset on a copy (the same
calls, in the same order). Above 18 the registry can pick other translations (functions with
`opset_introduced` > 18); where a probe's decomposed graph contains such an op we build again at that
opset. `verify_shortcut` compares this against full exports.

TorchScript exporter (`dynamo=False`): one real export per opset (milliseconds each).
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Callable, Iterable

from exportlint.tables.probe.catalog import OneOp, catalog, exported_ops
from exportlint.tables.probe.harness import compare_outputs

OPSETS = tuple(range(9, 24))
TORCHLIB_OPSET = 18
EXPORTERS = ("dynamo", "torchscript")


@dataclass
class OpsetResult:
    """One exporter at one requested opset."""

    status: str  # "supported" | "unsupported"
    reason: str = ""  # first line of the failure
    opset: int | None = None  # default-domain opset of the model that came out
    onnx_ops: list[str] = field(default_factory=list)  # "ai.onnx::Resize", "com.microsoft::X"


@dataclass
class ProbeResult:
    name: str
    op: str
    conditions: str
    aten_ops: list[str]  # ops of the torch.export graph (before run_decompositions)
    capture_error: str = ""
    # exporter -> requested opset (str) -> result
    results: dict[str, dict[str, OpsetResult]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ProbeResult":
        results = {exp: {v: OpsetResult(**r) for v, r in per.items()}
                   for exp, per in data.get("results", {}).items()}
        return cls(**{**data, "results": results})


def first_line(exc: BaseException) -> str:
    """The most specific one-line message: the innermost cause's first non-empty line."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def onnx_op_types(model: Any) -> list[str]:
    """ONNX ops of a ModelProto as `domain::op_type`, looking through local functions and subgraphs."""
    import onnx

    functions = {(f.domain, f.name): f for f in model.functions}
    found: set[str] = set()

    def walk(nodes: Iterable[Any]) -> None:
        for node in nodes:
            fn = functions.get((node.domain, node.op_type))
            if fn is not None:
                walk(fn.node)
                continue
            found.add(f"{node.domain or 'ai.onnx'}::{node.op_type}")
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g.node)
                for g in attr.graphs:
                    walk(g.node)

    walk(model.graph.node)
    return sorted(found)


def default_opset(model: Any) -> int | None:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def _flat_outputs(out: Any) -> list[Any]:
    import torch

    return [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]


def validate(model: Any, requested: int, inputs: tuple, expected: list[Any],
             deterministic: bool) -> OpsetResult:
    """Check opset, checker and ONNX Runtime numerics of one exported ModelProto against PyTorch's outputs."""
    return validate_arrays(model, requested, [t.numpy() for t in _flat_outputs(inputs)], expected, deterministic)


def validate_arrays(model: Any, requested: int, inputs: list[Any], expected: list[Any],
                    deterministic: bool, source: str = "PyTorch") -> OpsetResult:
    """`validate` with NumPy inputs, and expected outputs (arrays or tensors) computed by `source`."""
    import onnx
    import onnxruntime as ort

    opset, ops = default_opset(model), onnx_op_types(model)
    if opset is not None and opset > requested:
        return OpsetResult("unsupported", f"exporter returned an opset-{opset} model (could not "
                                          f"convert it to opset {requested})", opset, ops)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:
        return OpsetResult("unsupported", f"onnx.checker: {first_line(e)}", opset, ops)
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(model.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
        feeds = {i.name: a for i, a in zip(session.get_inputs(), inputs)}
        got = session.run(None, feeds)
    except Exception as e:
        return OpsetResult("unsupported", f"onnxruntime: {first_line(e)}", opset, ops)
    problem = compare_outputs(expected, got, deterministic, "onnxruntime", source)
    if problem:
        return OpsetResult("unsupported", problem, opset, ops)
    return OpsetResult("supported", "", opset, ops)


@cache
def _opset_introduced() -> dict[str, frozenset[int]]:
    """ATen op -> the `opset_introduced` values of its torchlib translations (all opsets)."""
    from torch.onnx._internal.exporter import _registration

    registry = _registration.ONNXRegistry.from_torchlib(max(OPSETS))
    return {str(d.fx_target): frozenset(m.opset_introduced for m in metas)
            for metas in registry.functions.values() for d in metas[:1]}


def _export_dynamo_base(ep: Any, opset: int) -> Any:
    """The ONNXProgram torch.onnx.export builds for `opset`, before convert_version and optimize."""
    import torch

    return torch.onnx.export(ep, dynamo=True, opset_version=opset, optimize=False, verbose=False)


def _convert(base_proto: Any, opset: int) -> Any:
    """Replay the exporter's tail: convert_version(model, opset), then optimize (torch 2.13 _core)."""
    import onnx_ir as ir
    from torch.onnx._internal._lazy_import import onnxscript_apis

    model = ir.from_proto(base_proto)
    model = onnxscript_apis.convert_version(model, opset)
    model = onnxscript_apis.optimize(model)
    return ir.to_proto(model)


def probe_dynamo(ep: Any, inputs: tuple, expected: list, deterministic: bool) -> dict[str, OpsetResult]:
    import onnx_ir as ir

    try:
        base = _export_dynamo_base(ep, TORCHLIB_OPSET)
    except Exception as e:
        fail = OpsetResult("unsupported", first_line(e))
        return {str(n): fail for n in OPSETS}
    # Opsets above 18 where the registry offers another translation for an op of this graph.
    intro = _opset_introduced()
    decomposed = {str(n.target) for n in base.exported_program.graph.nodes if n.op == "call_function"}
    rebuild_at = {v for op in decomposed for v in intro.get(op, ()) if v > TORCHLIB_OPSET}
    builds = {TORCHLIB_OPSET: ir.to_proto(base.model)}
    results = {}
    for n in OPSETS:
        build_at = max([TORCHLIB_OPSET, *(b for b in rebuild_at if b <= n)])
        try:
            if build_at not in builds:
                builds[build_at] = ir.to_proto(_export_dynamo_base(ep, build_at).model)
            model = _convert(builds[build_at], n)
        except Exception as e:
            results[str(n)] = OpsetResult("unsupported", first_line(e))
            continue
        results[str(n)] = validate(model, n, inputs, expected, deterministic)
    return results


def probe_torchscript(module: Any, inputs: tuple, expected: list,
                      deterministic: bool) -> dict[str, OpsetResult]:
    import onnx
    import torch

    results = {}
    for n in OPSETS:
        buffer = io.BytesIO()
        try:
            torch.onnx.export(module, inputs, buffer, dynamo=False, opset_version=n)
        except Exception as e:
            results[str(n)] = OpsetResult("unsupported", first_line(e))
            continue
        model = onnx.load_from_string(buffer.getvalue())
        results[str(n)] = validate(model, n, inputs, expected, deterministic)
    return results


def run_probe(probe: OneOp) -> ProbeResult:
    import torch

    module, inputs = probe.build()
    with torch.no_grad():
        expected = _flat_outputs(module(*inputs))
    try:
        ep, aten_ops = exported_ops(module, inputs)
    except Exception as e:
        return ProbeResult(probe.name, probe.op, probe.conditions, [], capture_error=first_line(e))
    result = ProbeResult(probe.name, probe.op, probe.conditions, aten_ops)
    result.results["dynamo"] = probe_dynamo(ep, inputs, expected, probe.deterministic)
    result.results["torchscript"] = probe_torchscript(module, inputs, expected, probe.deterministic)
    return result


def _quiet() -> None:
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    os.environ.setdefault("TORCH_LOGS", "-all")


def _run_named(name: str) -> dict[str, Any]:
    _quiet()
    import contextlib

    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), \
            contextlib.redirect_stderr(devnull):
        return asdict(run_probe(catalog()[name]))


def run(names: list[str], workers: int = 2, log: Any = sys.stderr,
        on_result: Callable[[dict[str, ProbeResult]], None] | None = None) -> dict[str, ProbeResult]:
    """Run the named probes in worker processes (a crash costs one probe, not the run).

    `on_result(results_so_far)` is called after every 10th probe (for checkpoints)."""
    import multiprocessing

    results: dict[str, ProbeResult] = {}
    pending = list(names)
    while pending:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures = {pool.submit(_run_named, n): n for n in pending}
            pending = []
            try:
                for fut in as_completed(futures):
                    name = futures[fut]
                    try:
                        results[name] = ProbeResult.from_json(fut.result())
                    except Exception as e:  # worker crashed: record, then restart the pool
                        probe = catalog()[name]
                        results[name] = ProbeResult(name, probe.op, probe.conditions, [],
                                                    capture_error=f"probe crashed: {first_line(e)}")
                    print(f"[{len(results)}/{len(names)}] {name}", file=log, flush=True)
                    if on_result is not None and len(results) % 10 == 0:
                        on_result(results)
            except Exception:
                pending = [n for n in futures.values() if n not in results]
    return results


def load_results(path: Path) -> dict[str, ProbeResult]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {name: ProbeResult.from_json(r) for name, r in data["probes"].items()}


def save_results(path: Path, results: dict[str, ProbeResult], provenance: dict[str, Any]) -> None:
    payload = {"provenance": provenance,
               "probes": {name: asdict(results[name]) for name in sorted(results)}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def verify_shortcut(names: list[str], opsets: Iterable[int] = (9, 13, 16, 17)) -> list[str]:
    """Compare the replayed down-conversion with full torch.onnx.export calls; return mismatches."""
    import torch

    _quiet()
    mismatches = []
    for name in names:
        module, inputs = catalog()[name].build()
        ep, _ = exported_ops(module, inputs)
        base = None
        for n in opsets:
            try:
                full = torch.onnx.export(ep, dynamo=True, opset_version=n, verbose=False).model_proto
            except Exception:
                full = None
            try:
                import onnx_ir as ir
                base = base or ir.to_proto(_export_dynamo_base(ep, TORCHLIB_OPSET).model)
                short = _convert(base, n)
            except Exception:
                short = None
            if (full is None) != (short is None) or (full is not None and (
                    default_opset(full) != default_opset(short)
                    or onnx_op_types(full) != onnx_op_types(short))):
                mismatches.append(f"{name} @ {n}")
    return mismatches
