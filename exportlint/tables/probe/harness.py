"""Run one-op probes in worker processes with a timeout per probe, and merge results into table entries.

A converter that hangs or crashes must not stop a run of hundreds of probes: each probe runs in a
long-lived worker (`python -m exportlint.tables.probe.harness MODULE:FUNCTION`) that reads catalogue
names on stdin and writes one JSON `ProbeRecord` per line; the parent kills and restarts the worker
when a probe exceeds its time. Converter chatter goes to the worker's stderr (the log).
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any


RTOL, ATOL = 1e-3, 1e-4  # how close a runtime's outputs must be to PyTorch's
TIMED_OUT = "probe timed out"  # the start of a timed-out record's error: the next run retries it


@dataclass
class ProbeRecord:
    name: str  # catalogue key
    op: str  # the op the probe is about
    ops: list[str] = field(default_factory=list)  # ATen ops the export really contained
    results: dict[str, str | None] = field(default_factory=dict)  # version -> None (ok) | error line
    error: str = ""  # the probe itself could not run (build/export failed, timeout, crash)
    conditions: str = ""  # argument case the probe covers (from the catalogue)
    produced: list[str] = field(default_factory=list)  # target ops produced (e.g. TFLite op codes)
    nodes: list[list[Any]] = field(default_factory=list)  # [target op, [runtime input dtypes]] per node
    note: str = ""  # e.g. "select-TF ops: converted, not run"
    # version -> target-side ops a delegate did not take (they run on the runtime's fallback kernels)
    fallback: dict[str, list[str]] = field(default_factory=dict)
    # quantization probes: the op's output is quantized (an op the quantizer quantizes ends it) though part of
    # it stays float (gelu's Erf before its last Mul)
    output_quantized: bool | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProbeRecord:
        return cls(**data)


def compare_outputs(expected: list[Any], got: list[Any], compare_values: bool, runtime: str,
                    source: str = "PyTorch") -> str | None:
    """None when a runtime's outputs (`got`) match `source`'s outputs `expected` (arrays or tensors, in order) in
    number, shape and (with `compare_values`, for numeric dtypes) values, else why not."""
    import numpy as np

    def array(t: Any) -> Any:
        return np.asarray(t.detach() if hasattr(t, "detach") else t)

    if len(got) != len(expected):
        return f"{runtime} returned {len(got)} outputs, {source} {len(expected)}"
    for want, have in zip(map(array, expected), map(array, got)):
        if want.shape != have.shape:
            return f"{runtime}: output shape {list(have.shape)} differs from {source} {list(want.shape)}"
        if compare_values and want.dtype.kind in "biuf" and not np.allclose(
                have.astype(np.float64), want.astype(np.float64), rtol=RTOL, atol=ATOL, equal_nan=True):
            diff = np.nanmax(np.abs(have.astype(np.float64) - want.astype(np.float64)))
            return f"{runtime}: output differs from {source} (max abs diff {diff:.3g})"
    return None


def outputs_differ(reason: str) -> bool:
    """Whether `reason` is one of `compare_outputs`'s: the converted model ran, its outputs are not the source's."""
    return re.search(r" returned \d+ outputs, |: output shape .* differs from |: output differs from ", reason) is not None


def begin_probe(case: Any) -> tuple[ProbeRecord, Any, Any, tuple, list[Any]]:
    """Build and torch.export a catalogue case: (its record with the exported ops, the module, the
    ExportedProgram, the inputs, PyTorch's outputs as a flat list of tensors). A case that does not export gets a
    record with `error` set and no program: the probe says nothing about the target."""
    import torch

    from exportlint.tables.probe.catalog import exported_ops

    module, inputs = case.build()
    record = ProbeRecord(name=case.name, op=case.op, conditions=case.conditions)
    try:
        program, record.ops = exported_ops(module, inputs)
    except Exception as exc:  # noqa: BLE001 - not exportable
        record.error = f"torch.export: {first_line(exc)}"
        return record, module, None, inputs, []
    with torch.no_grad():
        out = module(*inputs)
    return record, module, program, inputs, [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")[:300]


def _resolve(spec: str) -> Callable[..., Any]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


READY = "ready"  # a worker's first line: set up (catalogue built, `prepare` run); probes time from here
STARTUP_TIMEOUT = 900.0


class _Worker:
    def __init__(self, probe_fn: str, log: IO[str] | None):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", __name__, probe_fn], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=log or subprocess.DEVNULL, text=True, bufsize=1,
        )
        assert self.proc.stdout
        ready, _, _ = select.select([self.proc.stdout], [], [], STARTUP_TIMEOUT)
        if not ready or self.proc.stdout.readline().strip() != READY:
            self.stop()  # `ask` then reports the crash for the first probe

    def ask(self, name: str, timeout: float) -> dict[str, Any] | str:
        """The worker's JSON answer, or an error string (timeout, crash)."""
        assert self.proc.stdin and self.proc.stdout
        if not self.alive():
            return f"converter crashed the process (exit code {self.proc.returncode})"
        self.proc.stdin.write(name + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.stop()
            return f"{TIMED_OUT} after {timeout:.0f} s"
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            return f"converter crashed the process (exit code {code})"
        return json.loads(line)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()


def run_probes(probe_fn: str, names: Iterable[str], ops: dict[str, str], timeout: float = 120.0,
               log: IO[str] | None = None) -> Iterator[ProbeRecord]:
    """Run `probe_fn` ("module:function", taking a catalogue `OneOp`) on each catalogue name.

    `ops` maps a name to the op it is about (recorded when the probe itself fails)."""
    worker: _Worker | None = None
    try:
        for name in names:
            if worker is None or not worker.alive():
                worker = _Worker(probe_fn, log)
            start = time.monotonic()
            answer = worker.ask(name, timeout)
            if isinstance(answer, str):
                yield ProbeRecord(name=name, op=ops.get(name, ""), error=answer)
            else:
                yield ProbeRecord.from_json(answer)
            if log:
                log.write(f"### probe {name}: {time.monotonic() - start:.1f} s\n")
                log.flush()
    finally:
        if worker is not None:
            worker.stop()


def _serve(probe_fn: str) -> None:
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # converters print to stdout: keep the answer channel clean
    sys.stdout = sys.stderr
    from exportlint.tables.probe.catalog import catalog

    fn = _resolve(probe_fn)
    probes = catalog()
    getattr(fn, "prepare", lambda: None)()  # heavy imports before the first probe's clock starts
    out.write(READY + "\n")
    for line in sys.stdin:
        name = line.strip()
        try:
            record = fn(probes[name])
        except Exception as exc:  # noqa: BLE001 - a probe failure is data, not a crash
            record = ProbeRecord(name=name, op=probes[name].op if name in probes else "",
                                 error=first_line(exc))
        out.write(json.dumps(asdict(record)) + "\n")


# --- merging probe records into table entries ---------------------------------------------------


@dataclass
class _Evidence:
    ok: list[ProbeRecord] = field(default_factory=list)  # converted (about this op or not)
    failed: list[tuple[ProbeRecord, str]] = field(default_factory=list)  # failed, about this op
    blamed: list[tuple[ProbeRecord, str]] = field(default_factory=list)  # failed, about another op


def catalog_forms() -> dict[str, dict[str, Any]]:
    """Probe name -> the node form it covers (`OneOp.match`), from the catalogue."""
    from exportlint.tables.probe.catalog import catalog

    return {name: one.match for name, one in catalog().items() if one.match}


def schema_defaults(op: str, names: Iterable[str]) -> dict[str, Any]:
    """The schema's default values of the named arguments of ATen `op` (`aten.pad.default`)."""
    import torch

    _, name, overload = op.split(".", 2)
    try:
        schema = getattr(getattr(torch.ops.aten, name), overload)._schema
    except (AttributeError, RuntimeError):
        return {}
    out = {}
    for arg in schema.arguments:
        if arg.name in names and arg.has_default_value():
            value = arg.default_value
            out[arg.name] = list(value) if isinstance(value, tuple) else (
                str(value) if not isinstance(value, (bool, int, float, str, list, type(None))) else value)
    return out


def conditional_entry(op: str, variants: list[dict[str, Any]], unmatched: list[str]) -> dict[str, Any]:
    """The ENTRY of an op whose probes disagree: "unverified" for every form no probe covered, with
    one variant per probed form (see `exportlint.tables`)."""
    from exportlint.tables import _variant_order, match_fields

    fields = sorted({f for v in variants for f in match_fields(v["match"])})
    entry: dict[str, Any] = {
        "status": "unverified", "evidence": "probe", "decided_by": fields,
        "reason": (f"support depends on {', '.join(fields)}; this form was not probed" if fields else
                   f"probes disagree ({', '.join(sorted(unmatched))}) on forms no argument tells apart"),
        "variants": sorted(variants, key=_variant_order),
    }
    names = {f.split(".")[1] for f in fields if f.startswith("args.")}
    defaults = schema_defaults(op, names) if names and op.count(".") >= 2 else {}
    if defaults:
        entry["defaults"] = defaults
    if unmatched:
        entry["unmatched_probes"] = sorted(set(unmatched))  # disagreeing probes with no declared form
    return entry


def merge(records: Iterable[ProbeRecord], versions: Iterable[str], produced_key: str,
          note: Callable[[ProbeRecord, str], str] | None = None,
          forms: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """Table entries {op: {version: ENTRY}} proven by probes; ENTRY[produced_key] lists the target ops
    the deciding probe produced (like `onnx_ops` in the ONNX table).

    A probe that converted proves every op its export contained. A failed probe is blamed on the op
    it is about when the export contained it, else on every op it contained (which counts only when
    no probe proved the op). When the probes about an op disagree at a version (one converts, another
    fails), support depends on the node's form: each probed form (`forms`: probe name -> match, by
    default the catalogue's) becomes a variant with its own verdict, and every other form is
    "unverified" (`conditional_entry`). Ops whose probes agree get one plain entry."""
    versions = list(versions)
    forms = catalog_forms() if forms is None else forms
    evidence: dict[tuple[str, str], _Evidence] = {}
    for rec in records:
        if rec.error:
            continue
        for v in versions:
            reason = rec.results.get(v)
            if reason is None and v in rec.results:
                for op in rec.ops:
                    evidence.setdefault((op, v), _Evidence()).ok.append(rec)
            elif reason is not None:
                if rec.op in rec.ops:
                    evidence.setdefault((rec.op, v), _Evidence()).failed.append((rec, reason))
                else:
                    for op in rec.ops:
                        evidence.setdefault((op, v), _Evidence()).blamed.append((rec, reason))
    _explain_by_other_ops(evidence)
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for (op, v), ev in sorted(evidence.items()):
        if ev.ok and ev.failed:
            entry = _conditional(op, v, ev, produced_key, note, forms)
        elif ev.ok:
            entry = _plain_ok(op, v, ev.ok, produced_key, note)
        else:
            rec, why = (ev.failed or ev.blamed)[0]
            entry = _with_produced({"status": "unsupported", "evidence": "probe", "probe": rec.name,
                                    "reason": why}, rec, produced_key)
        table.setdefault(op, {})[v] = entry
    return table


def _explain_by_other_ops(evidence: dict[tuple[str, str], _Evidence]) -> None:
    """A probe about an op that fails with the reason another op of its graph fails with in that op's own
    probes (a pattern probe: affine_grid read by grid_sample, on a delegate without grid_sample) says
    nothing of its op: it counts as blamed, not failed."""
    own = {key: {why for _, why in ev.failed} for key, ev in evidence.items()}
    for (op, v), ev in evidence.items():
        explained = [(rec, why) for rec, why in ev.failed
                     if any(why in own.get((other, v), ()) for other in rec.ops if other != op)]
        ev.failed = [f for f in ev.failed if f not in explained]
        ev.blamed.extend(explained)


def _with_produced(entry: dict[str, Any], rec: ProbeRecord, produced_key: str) -> dict[str, Any]:
    if rec.produced:
        entry[produced_key] = rec.produced
    return entry


def _plain_ok(op: str, v: str, ok: list[ProbeRecord], produced_key: str,
              note: Callable[[ProbeRecord, str], str] | None) -> dict[str, Any]:
    rec = min(ok, key=lambda r: (r.op != op, len(r.ops), r.name))
    entry: dict[str, Any] = {"status": "supported", "evidence": "probe", "probe": rec.name}
    extra = note(rec, v) if note else ""
    if extra:
        entry["note"] = extra
    return _with_produced(entry, rec, produced_key)


def _conditional(op: str, v: str, ev: _Evidence, produced_key: str,
                 note: Callable[[ProbeRecord, str], str] | None,
                 forms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    by_form: dict[str, tuple[list[ProbeRecord], list[tuple[ProbeRecord, str]]]] = {}
    unmatched = []
    for rec in ev.ok:
        if rec.op != op:
            continue  # proved inside another op's probe: its form there is unknown
        if rec.name in forms:
            by_form.setdefault(json.dumps(forms[rec.name], sort_keys=True), ([], []))[0].append(rec)
        else:
            unmatched.append(rec.name)
    for rec, why in ev.failed:
        if rec.name in forms:
            by_form.setdefault(json.dumps(forms[rec.name], sort_keys=True), ([], []))[1].append((rec, why))
        else:
            unmatched.append(rec.name)
    variants = []
    for key, (ok, failed) in sorted(by_form.items()):
        if ok and not failed:
            variant = _plain_ok(op, v, ok, produced_key, note)
        elif failed and not ok:
            rec, why = failed[0]
            variant = _with_produced({"status": "unsupported", "evidence": "probe", "probe": rec.name,
                                      "reason": why}, rec, produced_key)
        else:
            variant = {"status": "unverified", "evidence": "probe", "probe": ", ".join(sorted(
                r.name for r in [*ok, *(r for r, _ in failed)])),
                       "reason": f"probes of this form disagree: {failed[0][0].name} fails: {failed[0][1]}"}
        variants.append({"match": json.loads(key), **variant})
    if unmatched:
        print(f"warning: {op} at {v}: probes disagree and {', '.join(sorted(set(unmatched)))} declare "
              "no form (catalogue `match`)", file=sys.stderr)
    return conditional_entry(op, variants, unmatched)


def mark_fallback(probed: dict[str, dict[str, dict[str, Any]]], records: Iterable[ProbeRecord],
                  delegates: Iterable[str], reason: str | Callable[[ProbeRecord, str, str], str],
                  exact: bool = False) -> None:
    """Turn "supported" entries at a delegate version into "fallback" where the deciding probe left the
    op (or, for the probe about it, anything; with `exact`, where `fallback` names the probe's own ops, the op
    only) outside the delegate (`ProbeRecord.fallback`); `reason` is formatted with `version`, or called with
    the record, the version and the op."""
    by_name = {r.name: r for r in records}
    forms = catalog_forms() if exact else {}
    for op, per_version in probed.items():
        for v in delegates:
            entry = per_version.get(v)
            split = _fallback_by_form(op, v, records, forms, reason) if exact and entry and not entry.get("variants") else None
            if split:
                per_version[v] = split
                continue
            for e in [entry, *(entry or {}).get("variants", [])]:
                rec = by_name.get((e or {}).get("probe", ""))
                if e is None or e["status"] != "supported" or rec is None:
                    continue
                left = rec.fallback.get(v, [])
                if op in left or (left and rec.op == op and not exact):
                    e.update(status="fallback", reason=reason(rec, v, op) if callable(reason)
                             else f"{reason.format(version=v)}: {', '.join(left)}")


def _fallback_by_form(op: str, v: str, records: Iterable[ProbeRecord], forms: dict[str, dict[str, Any]],
                      reason: Callable[[ProbeRecord, str, str], str]) -> dict[str, Any] | None:
    """Where the probes about `op` that converted disagree on whether the delegate took it (one form taken, another
    left out: `adaptive_avg_pool2d` to 1x1 or to 3x3), the conditional entry with a variant per probed form;
    else None."""
    own = [r for r in records if r.op == op and not r.error and v in r.results and r.results[v] is None]
    left = {r.name for r in own if op in r.fallback.get(v, [])}
    if not left or len(left) == len(own):
        return None
    groups: dict[str, list[ProbeRecord]] = {}
    for rec in own:
        if rec.name in forms:
            groups.setdefault(json.dumps(forms[rec.name], sort_keys=True), []).append(rec)
    variants = []
    for key, recs in sorted(groups.items()):
        out = [r for r in recs if r.name in left]
        names = ", ".join(sorted(r.name for r in recs))
        variant = ({"status": "supported", "evidence": "probe", "probe": names} if not out else
                   {"status": "fallback", "evidence": "probe", "probe": names, "reason": reason(out[0], v, op)}
                   if len(out) == len(recs) else
                   {"status": "unverified", "evidence": "probe", "probe": names,
                    "reason": f"probes of this form disagree: {out[0].name} leaves it out"})
        variants.append({"match": json.loads(key), **variant})
    return conditional_entry(op, variants, [r.name for r in own if r.name not in forms])


def after_producer(case: Any, consumer: bool = False, matmul: bool = False) -> Any:
    """A quantization probe of `case`: its first float input multiplied by a parameter first, so that the op
    reads a quantized tensor as it does in a model (a `mul` by a weight is quantized by every PT2E and ONNX
    quantizer probed); with `consumer`, its float outputs multiplied by a parameter too, so that a quantized op
    reads them (a converter that quantizes an op between a dequantize and a quantize, TFLite's, then does). With
    `matmul`, both are a `linear` with the identity over the last dim instead (NNCF quantizes a MatMul's inputs,
    not a Multiply by a constant); a tensor of rank 0 keeps the `mul`. A case without a float input is returned
    as is."""
    from dataclasses import replace

    def build() -> tuple[Any, tuple]:
        import torch

        module, inputs = case.build()
        first = next((i for i, t in enumerate(inputs) if isinstance(t, torch.Tensor) and t.is_floating_point()), None)
        if first is None:
            return module, inputs

        dims = {inputs[first].shape[-1]} if matmul and inputs[first].dim() else set()
        if matmul and consumer:
            with torch.no_grad():
                dims |= {t.shape[-1] for t in torch.utils._pytree.tree_leaves(module(*inputs))
                         if isinstance(t, torch.Tensor) and t.is_floating_point() and t.dim()}

        class AfterProducer(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = module
                self.scale = torch.nn.Parameter(torch.rand_like(inputs[first]) + 0.5)
                if consumer:
                    self.after = torch.nn.Parameter(torch.tensor([1.5]))
                for d in dims:
                    self.register_buffer(f"eye{d}", torch.eye(d))

            def through(self, t: Any, weight: Any) -> Any:
                if t.dim() and t.shape[-1] in dims:
                    return torch.nn.functional.linear(t, getattr(self, f"eye{t.shape[-1]}").to(t.dtype))
                return t * weight

            def forward(self, *args: Any) -> Any:
                out = self.inner(*args[:first], self.through(args[first], self.scale), *args[first + 1:])
                return torch.utils._pytree.tree_map(
                    lambda t: self.through(t, self.after) if isinstance(t, torch.Tensor) and t.is_floating_point()
                    else t, out) if consumer else out

        return AfterProducer().eval(), inputs

    return replace(case, build=build)


def is_qdq(node: Any, kind: str = "") -> bool:
    """Whether an fx node is a PT2E quantize/dequantize op (`kind`: "quantize", "dequantize" or either)."""
    return node.op == "call_function" and getattr(node.target, "__name__", str(node.target)).startswith(
        f"quantized_decomposed.{kind}")


def source_node(node: Any) -> str | None:
    """The name of the node of the user's exported graph an fx node of a later pass came from (`from_node`)."""
    sources = node.meta.get("from_node")
    while sources:
        if not sources[-1].from_node:
            return sources[-1].name
        sources = sources[-1].from_node
    return None


def note_outcome(out: dict[str, tuple[str, str]], name: str | None, status: str, why: str) -> None:
    """Record one part of node `name`'s real quantization outcome: one float part makes the node float."""
    if name and not (out.get(name, ("",))[0] == "float" and status == "quantized"):
        out[name] = (status, why)


def record_float(record: ProbeRecord, program: Any, outcome: dict[str, tuple[str, str]], version: str) -> ProbeRecord:
    """Fill a quantization probe's record from the real outcome ({node name: ("quantized" | "float", why)}):
    `fallback[version]` the ATen ops of `program` that stayed float, `note` why ("OP: why; ...", `stays_float`)."""
    targets = {n.name: str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    left = {targets[name]: why for name, (status, why) in outcome.items() if status == "float" and name in targets}
    record.fallback[version] = sorted(left)
    record.note = "; ".join(f"{op}: {why}" for op, why in sorted(left.items()))
    return record


def quant_probe(case: Any, version: str, quantize: Callable[[Any, tuple], tuple[Any, dict[str, tuple[str, str]]]],
                run: Callable[[Any, tuple, list[Any]], str | None], stages: tuple[str, str], consumer: bool = False,
                produced: Callable[[Any], list[str]] | None = None, matmul: bool = False) -> ProbeRecord:
    """The body of a quantization probe: `case` after a quantized producer (`after_producer`, with `consumer`, `matmul`),
    exported, then `quantize(module, inputs) -> (artifact, {node: (status, why)})` (the real quantizer and
    converter) and `run(artifact, inputs, expected) -> problem`; a failure is recorded with the stage it happened
    in (`stages`: quantizing, running), else `record_float` and `produced(artifact)` (the target's ops)."""
    record, module, program, inputs, expected = begin_probe(after_producer(case, consumer, matmul))
    if program is None:
        return record
    stage = stages[0]
    try:
        artifact, outcome = quantize(module, inputs)
        stage = stages[1]
        record.results[version] = run(artifact, inputs, expected)
    except Exception as exc:  # noqa: BLE001 - the quantizer's, converter's or runtime's error is the result
        record.results[version] = f"{stage}: {first_line(exc)}"
        return record
    if produced:
        record.produced = produced(artifact)
    return record_float(record, program, outcome, version)


def stays_float(record: ProbeRecord, version: str, op: str) -> str:
    """The reason of a quantization table's "fallback" entry: why the probe saw `op` stay float, from the
    record's `note` ("OP: why; OP: why", the probe's ops that stayed float), or all of it when `op` is not named."""
    reasons = dict(part.partition(": ")[::2] for part in record.note.split("; "))
    return f"stays float: {reasons[op]}" if op in reasons else f"stays float: {record.note}"


def fails_when_fed(probed: dict[str, dict[str, dict[str, Any]]], records: Iterable[ProbeRecord], version: str) -> None:
    """Where an op's own quantization probes (after a quantized producer) all fail, but every other probe that
    contained it converted with the op left float (its input was float there), the op fails only when its input is
    quantized: its entry becomes the failure, with `shares_input` (`merge` leaves such disagreeing probes without
    a form "unverified")."""
    records = [r for r in records if not r.error and version in r.results]
    for op, per_version in probed.items():
        entry = per_version.get(version)
        if not entry or entry["status"] != "unverified" or entry.get("variants"):
            continue
        own = [r for r in records if r.op == op and op in r.ops]
        other = [r for r in records if r.op != op and op in r.ops]
        if own and other and all(r.results[version] for r in own) and all(
                r.results[version] is None and op in r.fallback.get(version, []) for r in other):
            per_version[version] = {"status": "unsupported", "evidence": "probe", "probe": own[0].name, "shares_input": True,
                                    "reason": f"when its input is quantized: {own[0].results[version]}"}


def quant_sources(probed: dict[str, dict[str, dict[str, Any]]], shares: Iterable[str],
                  folds: dict[str, list[str]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Add the quantizer's context conditions, read from its source, to the probed entries of a quantization
    table: `shares_input` (quantized only when its input is) and `fuses_after` (folded into a preceding op of
    these kinds). Returns registry entries (for `assemble`) for the ops named there that no probe contained."""
    shares = set(shares)
    registry: dict[str, dict[str, dict[str, Any]]] = {}
    for op in sorted(shares | set(folds)):
        context = {**({"shares_input": True} if op in shares else {}),
                   **({"fuses_after": folds[op]} if op in folds else {})}
        if op not in probed:
            registry[op] = {"*": {"status": "unverified", "evidence": "registry", **context,
                                  "reason": "no probe contained it; the quantizer's source names it"}}
        for entry in probed.get(op, {}).values():
            for e in [entry, *entry.get("variants", [])]:
                e.update(context)
    return registry


def overlay(ops: dict[str, dict[str, dict[str, Any]]], probed: dict[str, dict[str, dict[str, Any]]],
            versions: Iterable[str]) -> None:
    """Replace registry entries in `ops` by probe entries, version by version."""
    versions = list(versions)
    for op, per_version in probed.items():
        base = ops.get(op, {})
        merged = {v: per_version.get(v) or base.get(v) or base.get("*") for v in versions}
        ops[op] = collapse({v: e for v, e in merged.items() if e}, versions)


def collapse(per_version: dict[str, dict[str, Any]], versions: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Write one "*" entry when every version has the same entry."""
    versions = list(versions)
    values = [per_version.get(v) for v in versions]
    if all(x is not None for x in values) and all(x == values[0] for x in values):
        return {"*": values[0]}
    return per_version


def load_records(path: os.PathLike[str] | str) -> list[ProbeRecord]:
    data = json.loads(open(path, encoding="utf-8").read())
    return [ProbeRecord.from_json(r) for r in data["probes"]]


if __name__ == "__main__":
    _serve(sys.argv[1])


# --- shared by the generators --------------------------------------------------------------------


def aten_overloads() -> list[Any]:
    """Every functional (non-mutating, non-out) ATen overload registered in the installed torch."""
    import torch

    ops = []
    for qualified in torch._C._dispatch_get_all_op_names():
        if not qualified.startswith("aten::"):
            continue
        name, _, overload = qualified[len("aten::"):].partition(".")
        packet = getattr(torch.ops.aten, name, None)
        try:
            op = getattr(packet, overload or "default")
        except (AttributeError, RuntimeError):
            continue
        if not op._schema.is_mutable:
            ops.append(op)
    return sorted(ops, key=str)


# TorchScript node kinds with no schema that user graphs contain (control flow, autograd.Function).
TORCHSCRIPT_SCHEMALESS = ("prim::If", "prim::Loop", "prim::PythonOp", "prim::CallFunction",
                          "prim::CallMethod", "prim::Uninitialized", "prim::unchecked_cast",
                          "prim::DictConstruct")


def torchscript_kinds() -> list[str]:
    """Every `aten::` / `prim::` node kind a TorchScript graph of the installed torch can hold (the
    schema names and the schemaless control-flow kinds), less the bookkeeping kinds `trace_graph`
    drops. An in-place kind (`aten::relu_`) is left out when its functional kind exists: both
    TorchScript converters look `x_` up as `x`, and `candidate_keys` falls back the same way, so a
    registry claim under `x_` would only hide the probe verdict of `x`."""
    import torch

    from exportlint.capture.pytorch import TORCHSCRIPT_BOOKKEEPING

    names = {s.name for s in torch._C._jit_get_all_schemas() if s.name.startswith(("aten::", "prim::"))}
    names = (names | set(TORCHSCRIPT_SCHEMALESS)) - TORCHSCRIPT_BOOKKEEPING
    return sorted(n for n in names if not (n.endswith("_") and not n.endswith("__") and n[:-1] in names))


def is_composite_implicit(op: Any) -> bool:
    """torch.export decomposes the op (unless it preserves it), so a converter never needs to see it."""
    import torch

    return torch._C._dispatch_has_kernel_for_dispatch_key(op.name(), "CompositeImplicitAutograd")


def library_versions(*names: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def probe_all(probe_fn: str, out_path: os.PathLike[str] | str, libraries: dict[str, str],
              timeout: float = 120.0, budget: float | None = None, first: Iterable[str] = ()) -> list[ProbeRecord]:
    """Run every catalogue probe not yet recorded for these libraries, and write the records as JSON.
    Records already in `out_path` (committed) or in the temporary partial file of an interrupted run
    are kept when they were made with the same libraries, except probes that timed out (re-run). Converter output goes to a log in the
    temporary directory. With `budget` (seconds; 0: none), stop starting probes after that time and write what
    is done (`"remaining"` counts the rest; the next run resumes). The probes named in `first` run
    first, then the hand-written ones (layers and functionals), then the generated ones."""
    import tempfile

    from exportlint.tables.probe.catalog import catalog

    probes = catalog()
    stem = Path(tempfile.gettempdir()) / f"exportlint-probe-{Path(out_path).stem}"
    partial = Path(f"{stem}.partial.jsonl")
    done: dict[str, ProbeRecord] = {}
    lines: list = []
    if partial.is_file():
        lines = [json.loads(line) for line in partial.read_text(encoding="utf-8").splitlines() if line]
        if lines and lines[0] == {"probe": probe_fn, "libraries": libraries}:
            done = {r["name"]: ProbeRecord.from_json(r) for r in lines[1:]}
    committed = json.loads(Path(out_path).read_text(encoding="utf-8")) if Path(out_path).is_file() else {}
    if committed.get("probe") == probe_fn and committed.get("libraries") == libraries:
        done = {r["name"]: ProbeRecord.from_json(r) for r in committed["probes"]} | done
    if not partial.is_file() or not lines or lines[0] != {"probe": probe_fn, "libraries": libraries}:
        partial.write_text(json.dumps({"probe": probe_fn, "libraries": libraries}) + "\n", encoding="utf-8")
    done = {n: r for n, r in done.items() if not r.error.startswith(TIMED_OUT)}  # a busy machine: retry
    first = list(first)
    todo = sorted((n for n in probes if n not in done),
                  key=lambda n: (n not in first, first.index(n) if n in first else 0, probes[n].origin != "nn", n))
    if budget is not None and budget <= 0:  # no time: write what earlier runs recorded
        todo = []
    started = time.monotonic()
    print(f"probing {len(todo)} catalogue entries ({len(done)} resumed); log: {stem}.log", file=sys.stderr)
    with open(f"{stem}.log", "a", encoding="utf-8") as log, open(partial, "a", encoding="utf-8") as keep:
        for record in run_probes(probe_fn, todo, {n: p.op for n, p in probes.items()}, timeout, log):
            keep.write(json.dumps(asdict(record)) + "\n")
            keep.flush()
            done[record.name] = record
            if budget is not None and time.monotonic() - started > budget:
                break
    records = [done[n] for n in sorted(done) if n in probes]
    remaining = sum(1 for n in probes if n not in done)
    data = {"generated": datetime.date.today().isoformat(), "probe": probe_fn, "libraries": libraries,
            "timeout_s": timeout, "remaining": remaining, "probes": [asdict(r) for r in records]}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    if not remaining:
        partial.unlink()
    return records


def count_probes(records: list[ProbeRecord]) -> dict[str, int]:
    return {"run": len(records), "failed_to_run": sum(bool(r.error) for r in records),
            "converted": sum(not r.error and any(v is None for v in r.results.values()) for r in records)}


def count_entries(ops: dict[str, dict[str, dict[str, Any]]], versions: Iterable[str]) -> dict[str, dict[str, int]]:
    """Per version: entries by status, and how many of them a probe proved."""
    out: dict[str, dict[str, int]] = {}
    for v in versions:
        c = out.setdefault(v, {"supported": 0, "unsupported": 0, "unverified": 0, "probed": 0})
        for per_version in ops.values():
            e = per_version.get(v) or per_version.get("*")
            if e:
                c[e["status"]] = c.get(e["status"], 0) + 1
                c["probed"] += e.get("evidence") == "probe"
    return out


def add_packets(ops: dict[str, dict[str, dict[str, Any]]], versions: Iterable[str]) -> None:
    """Add packet-name keys (`aten.add`, for graphs without overloads, e.g. torch.jit.trace): the
    entries of the overloads when they agree, else the `.default` overload's, saying that others differ."""
    versions = list(versions)
    packets: dict[str, list[str]] = {}
    for key in ops:
        packets.setdefault(key.rsplit(".", 1)[0], []).append(key)
    for packet, keys in packets.items():
        if packet in ops:
            continue
        expanded = {k: {v: ops[k].get(v) or ops[k].get("*") for v in versions} for k in keys}
        first = expanded[keys[0]]
        if all(e == first for e in expanded.values()):
            ops[packet] = ops[keys[0]]
            continue
        main = f"{packet}.default" if f"{packet}.default" in ops else keys[0]
        others = ", ".join(k.rsplit(".", 1)[1] for k in keys if expanded[k] != expanded[main])
        ops[packet] = {v: {**e, "note": "; ".join(filter(None, [
            e.get("note", ""), f"for overload {main.rsplit('.', 1)[1]}; overloads {others} differ"]))}
            for v, e in ops[main].items()}


def assemble(family: str, versions: tuple[str, ...], ops: dict[str, dict[str, dict[str, Any]]],
             probed: dict[str, dict[str, dict[str, Any]]], records: list[ProbeRecord], probe_meta: dict[str, Any],
             generator: str, generator_version: str, libraries: tuple[str, ...], sources: list[str],
             registry: dict[str, Any], dtypes: dict[str, Any], dialect: str = "aten") -> dict[str, Any]:
    """A table in the shared schema: the registry's claims `ops`, overlaid by the `probed` verdicts,
    with packet names added (ATen dialect: `aten.add` beside `aten.add.Tensor`; TorchScript node
    kinds carry no overload) and the provenance of both."""
    overlay(ops, probed, versions)
    counts = count_entries(ops, versions)  # overloads only
    if dialect == "aten":
        add_packets(ops, versions)
    return {
        "schema_version": 1, "dialect": dialect, "family": family, "versions": list(versions),
        "provenance": {
            "generator": generator, "generator_version": generator_version,
            "generated": probe_meta.get("generated") or datetime.date.today().isoformat(),
            "libraries": library_versions(*libraries),
            "probe_libraries": probe_meta.get("libraries", {}),
            "sources": sources, "registry": registry, "probes": count_probes(records), "entries": counts,
        },
        "dtypes": dtypes,
        "ops": dict(sorted(ops.items())),
        # probes not run yet (a run stopped by its budget): ATen ops outside `ops` are not decided
        **({"partial": True} if probe_meta.get("remaining") else {}),
    }


def generate_table(out_dir: os.PathLike[str] | str, name: str, probe_fn: str | None, libraries: tuple[str, ...],
                   build: Callable[[list[ProbeRecord], dict[str, Any]], dict[str, Any]],
                   budget: float | None = None) -> Path:
    """The common body of a generator: with `probe_fn`, re-run the probes into `rules/probes/NAME.json`;
    then build the table from the committed probe file and write `OUT_DIR/NAME.json`."""
    probes = Path(__file__).resolve().parents[3] / "rules" / "probes" / f"{name}.json"
    if probe_fn:
        probes.parent.mkdir(parents=True, exist_ok=True)
        probe_all(probe_fn, probes, library_versions(*libraries), budget=budget)
    meta = json.loads(probes.read_text(encoding="utf-8")) if probes.is_file() else {"probes": []}
    records = [ProbeRecord.from_json(r) for r in meta["probes"]]
    from exportlint.tables.generate import write_table

    return write_table(Path(out_dir), build(records, meta))
