"""`aten-onnx.json`: which ATen ops torch.onnx exports at opsets 9..23, per exporter.

Claims come from the exporters' registries:
- dynamo (default exporter): torchlib registry `ONNXRegistry.from_torchlib(max(N, 18))` and its
  ONNX-friendly decomposition table; below 18 it builds at 18 and down-converts, so a claim there
  is only as good as the down-conversion (probes decide);
- torchscript (`dynamo=False`): `torch.onnx._internal.torchscript_exporter.registration.registry`
  (symbolic functions per opset).

Proof comes from the committed probe results (`rules/probes/aten-onnx.json`, written by
`--probe`): a one-op model converted, checked, and run in ONNX Runtime. A probe's verdict is keyed by
the op the exported graph really contains. Without `--probe` generation is fast and deterministic.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from exportlint.tables.generate import write_table

GENERATOR_VERSION = "1"
OPSETS = tuple(range(9, 24))
EXPORTERS = ("dynamo", "torchscript")
PROBES_PATH = Path(__file__).resolve().parents[3] / "rules" / "probes" / "aten-onnx.json"
LIBRARIES = ("torch", "onnx", "onnxscript", "onnx-ir", "onnxruntime")
DTYPES = {"*": {"float64": {"status": "supported", "evidence": "docs", "reason": "ONNX keeps DOUBLE tensors"},
                "int64": {"status": "supported", "evidence": "docs", "reason": "ONNX keeps INT64 tensors"}}}


@dataclass
class Claim:
    """What one exporter's registry says about one op at one opset."""

    status: str  # "unverified" (registered) or "unsupported" (no translation)
    reason: str


@dataclass
class Cell:
    """One exporter's verdict for one op at one opset, after merging probes into claims."""

    status: str
    reason: str = ""
    evidence: str = "registry"
    onnx_ops: list[str] = field(default_factory=list)
    probe: str = ""  # the probe it comes from ("" for a registry claim)
    subject: bool = True  # the probe is about this op (else it proved the op inside another op's probe)


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def overload_name(schema_name: str, overload: str) -> str:
    """`aten::add`, `Tensor` -> `aten.add.Tensor` (str(OpOverload)); empty overload -> `default`."""
    return f"{schema_name.replace('::', '.')}.{overload or 'default'}"


def all_aten_overloads() -> list[str]:
    import torch

    return sorted({overload_name(s.name, s.overload_name) for s in torch._C._jit_get_all_schemas()
                   if s.name.startswith("aten::")})


def dynamo_claims(ops: list[str]) -> dict[str, dict[int, Claim]]:
    """Per op and opset: registered (directly or by an ONNX-friendly decomposition) or not."""
    import logging

    from torch.onnx._internal.exporter import _decomp, _registration

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    by_build: dict[int, tuple[set[str], set[str]]] = {}
    for build in sorted({max(n, 18) for n in OPSETS}):
        registry = _registration.ONNXRegistry.from_torchlib(build)
        direct = {str(metas[0].fx_target) for metas in registry.functions.values() if metas}
        decomp = {str(k) for k in _decomp.create_onnx_friendly_decomposition_table(
            set(registry.functions))}
        by_build[build] = (direct, decomp - direct)
    claims: dict[str, dict[int, Claim]] = {}
    for op in ops:
        per: dict[int, Claim] = {}
        for n in OPSETS:
            direct, decomp = by_build[max(n, 18)]
            # Below 18 the claim is the opset-18 build's; whether down-conversion works is for probes.
            if op in direct:
                per[n] = Claim("unverified", f"torchlib translates {op}")
            elif op in decomp:
                per[n] = Claim("unverified", "decomposed, then translated by torchlib")
            else:
                per[n] = Claim("unsupported", f"no torchlib translation or decomposition for {op}")
        claims[op] = per
    return claims


def torchscript_claims(ops: list[str]) -> dict[str, dict[int, Claim]]:
    """Per op and opset: a symbolic function is registered for the packet (`aten::name`) or not."""
    import torch.onnx.utils
    from torch.onnx._internal.torchscript_exporter import registration

    torch.onnx.utils._trigger_symbolic_function_registration()
    registry = registration.registry
    claims: dict[str, dict[int, Claim]] = {}
    for op in ops:
        packet = "aten::" + op.split(".")[1]
        group = registry.get_function_group(packet)
        per: dict[int, Claim] = {}
        for n in OPSETS:
            if group is not None and group.get(n) is not None:
                per[n] = Claim("unverified", f"symbolic function registered for {packet}")
            elif group is not None:
                since = group.get_min_supported()
                per[n] = Claim("unsupported", f"{packet} has a symbolic function from opset "
                                              f"{since} only")
            else:
                per[n] = Claim("unsupported", f"no symbolic function for {packet}")
        claims[op] = per
    return claims


def probe_cells(probes: dict[str, Any]) -> dict[str, dict[str, dict[str, dict[int, list[Cell]]]]]:
    """op -> variant -> exporter -> opset -> probe verdicts about that op.

    A probe speaks for the op it is about when its graph contains that op, else for its only op.
    A successful probe also proves every other op of its graph (in the "" variant: form unknown).
    The variant is the JSON of the catalogue's `match` (the node form the probe covers) for a probe
    that declares one, else "".
    """
    from exportlint.tables.probe.catalog import catalog

    matches = {name: one.match for name, one in catalog().items() if one.match}
    out: dict[str, dict[str, dict[str, dict[int, list[Cell]]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list))))
    for probe in probes.values():
        if probe.capture_error or not probe.aten_ops:
            continue
        subject = probe.op if probe.op in probe.aten_ops else (
            probe.aten_ops[0] if len(probe.aten_ops) == 1 else None)
        variant = json.dumps(matches[probe.name], sort_keys=True) if probe.name in matches else ""
        for exporter, per in probe.results.items():
            for v, r in per.items():
                for op in probe.aten_ops:
                    if op == subject:
                        out[op][variant][exporter][int(v)].append(
                            Cell(r.status, r.reason, "probe", list(r.onnx_ops), probe.name))
                    elif r.status == "supported":
                        out[op][""][exporter][int(v)].append(
                            Cell(r.status, r.reason, "probe", list(r.onnx_ops), probe.name, subject=False))
    return out


def merge(claim: Claim, cells: list[Cell]) -> Cell:
    """Probes override the registry. Probes of one form that disagree: "unverified" (the form that
    decides is not declared in the catalogue), unless the failing ones are not about this op."""
    if not cells:
        return Cell(claim.status, claim.reason)
    ok = [c for c in cells if c.status == "supported"]
    bad = [c for c in cells if c.status != "supported"]
    if not ok:
        return Cell("unsupported", bad[0].reason, "probe", bad[0].onnx_ops, bad[0].probe)
    if bad:
        return Cell("unverified", f"probes disagree: {ok[0].probe} converts, {bad[0].probe} fails "
                    f"({bad[0].reason})", "probe", [], bad[0].probe)
    # The ONNX ops it becomes: those of its own probes (one per form); proved only inside other ops' probes,
    # the ops every such probe made (the rest belong to the other ops).
    own = [set(c.onnx_ops) for c in ok if c.subject]
    onnx_ops = sorted(set().union(*own) if own else set.intersection(*(set(c.onnx_ops) for c in ok)))
    return Cell("supported", "", "probe", onnx_ops, ok[0].probe)


def combined_entry(cells: dict[str, Cell]) -> dict[str, Any]:
    """One table ENTRY from the per-exporter cells."""
    supported = [e for e in EXPORTERS if cells[e].status == "supported"]
    unverified = [e for e in EXPORTERS if cells[e].status == "unverified"]
    if supported:
        primary = cells[supported[0]]
        status, reason, evidence = "supported", "", "probe"
        via = supported
    elif unverified:
        primary = cells[unverified[0]]
        status, reason, evidence = "unverified", primary.reason, primary.evidence
        via = []  # only exporters proven to reach the opset
    else:
        primary = cells["dynamo"]
        status, reason, evidence = "unsupported", primary.reason, primary.evidence
        via = []
    entry: dict[str, Any] = {"status": status, "evidence": evidence, "via": ",".join(via),
                             "exporters": {e: cells[e].status for e in EXPORTERS}}
    if reason:
        entry["reason"] = reason
    if status == "unsupported" and cells["torchscript"].reason != reason:
        entry["reasons"] = {e: cells[e].reason for e in EXPORTERS}
    if primary.onnx_ops:
        entry["onnx_ops"] = primary.onnx_ops
    return entry


def _signature(entry: dict[str, Any]) -> tuple[str, str]:
    return entry["status"], json.dumps(entry["exporters"], sort_keys=True)


def op_entry(op: str, n: int, claims: dict[str, dict[str, dict[int, Claim]]],
             probed: dict[str, dict[str, dict[int, list[Cell]]]]) -> dict[str, Any]:
    """The ENTRY of `op` at opset `n`: plain when its probes agree, else one variant per probed form
    (`harness.conditional_entry`); the per-exporter status of the unprobed forms is the one all
    variants share, or "unverified"."""
    from exportlint.tables import _variant_order
    from exportlint.tables.probe.harness import conditional_entry

    def entry_of(cells_by_exporter: dict[str, dict[int, list[Cell]]]) -> dict[str, Any]:
        return combined_entry({e: merge(claims[e][op][n], cells_by_exporter.get(e, {}).get(n, []))
                               for e in EXPORTERS})

    forms = {k: entry_of(c) for k, c in probed.items() if k and any(c.get(e, {}).get(n) for e in EXPORTERS)}
    rest = probed.get("", {})
    subject_rest = any(c.subject for e in EXPORTERS for c in rest.get(e, {}).get(n, []))
    signatures = {_signature(e) for e in forms.values()}
    if subject_rest:
        signatures.add(_signature(entry_of(rest)))
    merged: dict[str, dict[int, list[Cell]]] = {
        e: {n: [c for cells in probed.values() for c in cells.get(e, {}).get(n, [])]} for e in EXPORTERS}
    if len(signatures) <= 1:  # the probes agree: one entry from all of them
        return entry_of(merged)
    variants = [{"match": json.loads(k), **v} for k, v in forms.items()]
    per_exporter = {e: {v["exporters"][e] for v in variants} for e in EXPORTERS}
    exporters = {e: s.pop() if len(s) == 1 else "unverified" for e, s in per_exporter.items()}
    if len({status for status, _ in signatures}) == 1:
        # Every probed form reaches the opset, through different exporters: the op converts; which
        # exporter takes a form no probe covered is not known.
        entry = entry_of(merged)
        entry.update(exporters=exporters, variants=sorted(variants, key=_variant_order),
                     via=",".join(e for e in EXPORTERS if exporters[e] == "supported"),
                     note="the exporters that reach this opset depend on the form: see variants")
        return entry
    unmatched = sorted({c.probe for e in EXPORTERS for c in rest.get(e, {}).get(n, []) if c.subject})
    if unmatched:
        print(f"warning: {op} at opset {n}: probes disagree and {', '.join(unmatched)} declare no form "
              "(catalogue `match`)", file=sys.stderr)
    entry = conditional_entry(op, variants, unmatched)
    entry["exporters"] = exporters
    entry["via"] = ""
    return entry


def compact(per_version: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Store the most common entry under "*" and only the versions that differ from it."""
    encoded = {v: json.dumps(e, sort_keys=True) for v, e in per_version.items()}
    common, _ = Counter(encoded.values()).most_common(1)[0]
    out = {"*": json.loads(common)}
    out.update({v: per_version[v] for v in per_version if encoded[v] != common})
    return out


def build_table(probes: dict[str, Any]) -> dict[str, Any]:
    ops = all_aten_overloads()
    probed = probe_cells(probes)
    ops = sorted(set(ops) | set(probed))
    claims = {"dynamo": dynamo_claims(ops), "torchscript": torchscript_claims(ops)}
    table_ops: dict[str, dict[str, dict[str, Any]]] = {}
    for op in ops:
        per_version = {str(n): op_entry(op, n, claims, probed.get(op, {})) for n in OPSETS}
        table_ops[op] = compact(per_version)
    add_packet_names(table_ops)
    counts = Counter(e["status"] for per in table_ops.values() for e in expand(per))
    return {
        "schema_version": 1, "dialect": "aten", "family": "onnx",
        "versions": [str(n) for n in OPSETS],
        "provenance": {
            "generator": "exportlint.tables.generate.aten_onnx",
            "generator_version": GENERATOR_VERSION,
            "generated": datetime.date.today().isoformat(),
            "libraries": library_versions(),
            "sources": [
                "torch.onnx._internal.exporter._registration.ONNXRegistry.from_torchlib",
                "torch.onnx._internal.exporter._decomp.create_onnx_friendly_decomposition_table",
                "torch.onnx._internal.torchscript_exporter.registration.registry",
                "torch._C._jit_get_all_schemas (the aten overloads)",
                "rules/probes/aten-onnx.json (one-op probes: torch.onnx.export + onnx.checker + "
                "onnxruntime)",
            ],
            "probes": {"probes": len(probes),
                       "probed_ops": sum(1 for op in table_ops if op in probed),
                       "entries": sum(counts.values()),
                       **{s: counts.get(s, 0) for s in ("supported", "unsupported", "unverified")}},
        },
        "dtypes": DTYPES,
        "ops": table_ops,
    }


def expand(per: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [per.get(str(n)) or per["*"] for n in OPSETS]


def add_packet_names(table_ops: dict[str, dict[str, dict[str, Any]]]) -> None:
    """`aten.name` (torch.jit.trace graphs carry no overload): the `.default` overload's entries,
    or the only overload's, where the name is not itself a key."""
    by_packet: dict[str, list[str]] = defaultdict(list)
    for op in table_ops:
        by_packet[op.rsplit(".", 1)[0]].append(op)
    for packet, overloads in by_packet.items():
        pick = f"{packet}.default" if f"{packet}.default" in overloads else (
            overloads[0] if len(overloads) == 1 else None)
        if pick is not None and packet not in table_ops:
            table_ops[packet] = table_ops[pick]


def run_probes(path: Path = PROBES_PATH, names: list[str] | None = None, workers: int = 2) -> None:
    """Run the catalogue's probes not yet in `path` (all of `names` if given) and save them."""
    from exportlint.tables.probe import onnx_runner
    from exportlint.tables.probe.catalog import catalog

    done = onnx_runner.load_results(path)
    todo = names if names is not None else [n for n in catalog() if n not in done]
    provenance = {"generator": "exportlint.tables.probe.onnx_runner",
                  "generator_version": GENERATOR_VERSION,
                  "generated": datetime.date.today().isoformat(), "libraries": library_versions()}

    def save(results):
        onnx_runner.save_results(path, {**done, **results}, provenance)

    save(onnx_runner.run(todo, workers=workers, log=sys.stderr, on_result=save))


def generate(out_dir: Path, probe: bool) -> list[Path]:
    from exportlint.tables.probe.onnx_runner import load_results

    if probe:
        run_probes()
    return [write_table(out_dir, build_table(load_results(PROBES_PATH)))]
