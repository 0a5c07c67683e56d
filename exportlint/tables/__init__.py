"""Support tables: which op converts to which target, generated from the real converters.

Tables are JSON files under the top-level `rules/tables/` (shipped in the wheel as
`exportlint.ruledata`), one per (dialect, family): `aten-onnx.json`, `aten-coreml.json`, ...
File schema (``schema_version`` 1)::

    {"schema_version": 1, "dialect": "aten", "family": "onnx", "versions": ["9", ..., "23"],
     "provenance": {"generator": ..., "generator_version": ..., "generated": "YYYY-MM-DD",
                    "libraries": {"torch": "2.13.0+cpu", ...}, "sources": [...], ...},
     "ops": {"aten.grid_sampler_2d.default": {"*": ENTRY, "16": ENTRY, ...}}}

Optional ``"dtypes": {VERSION_OR_*: {"float64": ENTRY, "int64": ENTRY, ...}}`` says how the target
treats each dtype (``status`` "supported", "unsupported", or "narrowed": silently cast to 32 bits).

An ENTRY is ``{"status": "supported"|"unsupported"|"unverified", "reason": str, "evidence":
"probe"|"registry"|"docs", "via": str, "conditions": str, ...}``; the key is a version of the family,
or ``"*"`` for every version not listed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any

from exportlint.targets import Target, parse_target

# Ops torch.export adds for shape bookkeeping (data-dependent sizes): never the subject of a probe,
# nor of a support verdict: the exporters handle them with the dims they track.
BOOKKEEPING_OPS = frozenset({
    "aten._assert_scalar.default", "aten.sym_size.int", "aten.sym_constrain_range_for_size.default",
    "aten._assert_tensor_metadata.default", "aten.sym_numel.default", "aten.sym_stride.int",
    "aten.sym_storage_offset.default", "aten.sym_is_contiguous.default", "aten._local_scalar_dense.default",
})


class Status(str, Enum):
    SUPPORTED = "supported"  # a one-op model really converted (probe) or documented (docs)
    UNSUPPORTED = "unsupported"
    UNVERIFIED = "unverified"  # the converter's registry claims it; no probe confirmed it
    NARROWED = "narrowed"  # dtypes only: accepted but silently cast to a narrower type
    UNKNOWN = "unknown"  # not in the table at all


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str = ""  # the converter's first error line, or the registry / docs fact
    evidence: str = ""  # "probe", "registry", "docs"
    via: str = ""  # which exporter / path reaches the target ("dynamo", "torchscript")
    hop: str = ""  # the conversion hop that fails ("torch->onnx", "onnx->tensorrt")
    since: str | None = None  # first later version of the family where the op is supported
    conditions: str = ""  # argument-dependent support, in words
    exporters: dict[str, str] = field(default_factory=dict)  # onnx: status per exporter (dynamo, ...)
    produces: tuple[str, ...] = ()  # the target's ops a probe saw it become (ONNX, MIL or TFLite ops)

    @property
    def blocks(self) -> bool:
        return self.status is Status.UNSUPPORTED


def _data_root():
    return resources.files("exportlint.ruledata") / "tables"


@cache
def load_table(dialect: str, family: str) -> dict[str, Any] | None:
    path = _data_root() / f"{dialect}-{family}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def available_tables() -> list[dict[str, Any]]:
    names = sorted(p.name for p in _data_root().iterdir() if p.name.endswith(".json"))
    return [load_table(*n.removesuffix(".json").split("-", 1)) for n in names]


def candidate_keys(op: str) -> list[str]:
    """Table keys to try for an op: exact overload, in-place → functional, then the packet name.
    A TorchScript node kind (`aten::relu_`, torchscript tables): exact, then in-place → functional
    (`aten::relu`); dunder names (`aten::__and__`) are not in-place."""
    keys = [op]
    namespace, sep, kind = op.partition("::")
    if sep:
        if kind.endswith("_") and not kind.endswith("__"):
            keys.append(f"{namespace}::{kind[:-1]}")
        return keys
    parts = op.split(".")
    if len(parts) >= 3 and parts[0] == "aten":
        name, overload = parts[1], ".".join(parts[2:])
        if name.endswith("_") and not name.endswith("__"):
            keys.append(f"aten.{name[:-1]}.{overload}")
        keys.append(f"aten.{name}")
        if name.endswith("_") and not name.endswith("__"):
            keys.append(f"aten.{name[:-1]}")
    elif len(parts) == 2 and parts[0] == "aten":  # packet name (e.g. from torch.jit.trace)
        keys.append(f"{op}.default")
    return keys


def _entry(table: dict[str, Any], op: str, version: str, args: dict[str, Any] | None = None
           ) -> dict[str, Any] | None:
    """The entry for `op` at `version`; with `args`, the first variant whose `match` they satisfy."""
    ops = table["ops"]
    for key in candidate_keys(op):
        per_version = ops.get(key)
        if per_version is not None:
            entry = per_version.get(version) or per_version.get("*")
            for variant in (entry or {}).get("variants", ()) if args else ():
                if all(args.get(k) == v for k, v in variant["match"].items()):
                    return {**entry, **variant}
            return entry
    return None


def has_variants(op: str, target: Target, dialect: str = "aten") -> bool:
    """Whether the op's support at `target` depends on its arguments (then pass them to `support`)."""
    hop = _first_hop(target, dialect)
    table = load_table(dialect, hop.family)
    entry = _entry(table, op, hop.version) if table else None
    return bool(entry and entry.get("variants"))


def _verdict(entry: dict[str, Any] | None) -> Verdict:
    if entry is None:
        return Verdict(Status.UNKNOWN)
    return Verdict(
        status=Status(entry["status"]),
        reason=entry.get("reason", ""),
        evidence=entry.get("evidence", ""),
        via=entry.get("via", ""),
        hop=entry.get("hop", ""),
        conditions=entry.get("conditions", ""),
        exporters=entry.get("exporters", {}),
        produces=tuple(entry.get("onnx_ops") or entry.get("mil_ops") or entry.get("tflite_ops") or ()),
    )


# Multi-hop conversion paths. A target family without a direct table for a dialect is reached through
# intermediate dialects: the hop graph (networkx, built on first use) has dialects and families as
# nodes; an edge is a hop with a table (`dialect-family.json`) and a rule that picks the version of
# the intermediate format for the final target version.
# TensorRT's ONNX parser reads ONNX up to opset 17 (8.6) / 20 (10.x), per onnx-tensorrt's docs.
TENSORRT_MAX_ONNX_OPSET = {"8.6": "17", "10": "20"}
_HOPS = (
    # (from dialect, to dialect/family, hop name, version of `to` for a final target version)
    ("aten", "onnx", "torch->onnx", lambda final: TENSORRT_MAX_ONNX_OPSET[final]),
    ("onnx", "tensorrt", "onnx->tensorrt", lambda final: final),
)
_RANK = {Status.SUPPORTED: 0, Status.UNVERIFIED: 1, Status.UNKNOWN: 2, Status.UNSUPPORTED: 3}


@cache
def _hop_graph():
    import networkx as nx

    graph = nx.DiGraph()
    for src, dst, name, pick in _HOPS:
        graph.add_edge(src, dst, name=name, pick=pick)
    return graph


def conversion_path(dialect: str, family: str) -> list[tuple[str, str, str]]:
    """The hops (from, to, hop name) from `dialect` to `family`; [] when a direct table exists."""
    import networkx as nx

    if load_table(dialect, family) is not None:
        return []
    graph = _hop_graph()
    try:
        nodes = nx.shortest_path(graph, dialect, family)
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return []
    return [(a, b, graph.edges[a, b]["name"]) for a, b in zip(nodes, nodes[1:])]


def _direct(op: str, target: Target, dialect: str, args: dict[str, Any] | None = None) -> Verdict:
    table = load_table(dialect, target.family)
    if table is None:  # no generated table: nothing is decided, nothing is known to fail
        return Verdict(Status.UNVERIFIED, reason=f"no {dialect}-{target.family} table")
    return _verdict(_entry(table, op, target.version, args))


def _first_hop(target: Target, dialect: str) -> Target:
    """The target of the first conversion hop from `dialect` (the target itself when direct)."""
    path = conversion_path(dialect, target.family)
    if not path:
        return target
    src, dst, _ = path[0]
    return Target(dst, _hop_graph().edges[src, dst]["pick"](target.version))


def _multi_hop(op: str, target: Target, dialect: str, path: list[tuple[str, str, str]],
               args: dict[str, Any] | None = None) -> Verdict:
    """Compose the hops: the ops after one hop (`onnx_ops` recorded by probes) feed the next.
    The verdict is the worst hop's, naming that hop."""
    ops, verdicts = [op], []
    for src, dst, name in path:
        pick = _hop_graph().edges[src, dst]["pick"]
        hop_target = Target(dst, pick(target.version))
        table = load_table(src, dst)
        produced: set[str] = set()
        for current in ops:
            own_args = args if current == op else None
            v = _direct(current, hop_target, src, own_args)
            detail = f"{current} at {hop_target}: " if current != op else ""
            verdicts.append(Verdict(**{**v.__dict__, "hop": name, "reason": detail + v.reason}))
            entry = _entry(table, current, hop_target.version, own_args) if table else None
            produced.update((entry or {}).get("onnx_ops", []))
        worst = max(verdicts, key=lambda v: _RANK[v.status])
        if worst.status is Status.UNSUPPORTED:
            return worst
        if dst != target.family and not produced:
            return Verdict(Status.UNVERIFIED, hop=name, via=worst.via, reason=(
                f"no probe recorded which {dst} ops {op} becomes at {hop_target}"))
        ops = sorted(produced)
    worst = max(verdicts, key=lambda v: _RANK[v.status])
    conditions = "; ".join(sorted({v.conditions for v in verdicts if v.conditions}))
    return Verdict(worst.status, reason=worst.reason if worst.status is not Status.SUPPORTED else "",
                   evidence=worst.evidence, via="->".join([dialect, *(d for _, d, _ in path)]),
                   hop=worst.hop if worst.status is not Status.SUPPORTED else "",
                   conditions=conditions)


def _support_at(op: str, target: Target, dialect: str, args: dict[str, Any] | None) -> Verdict:
    path = conversion_path(dialect, target.family)
    return _multi_hop(op, target, dialect, path, args) if path else _direct(op, target, dialect, args)


def support(op: str, target: Target | str, dialect: str = "aten", args: dict[str, Any] | None = None
            ) -> Verdict:
    """Whether `op` (a qualified op name in `dialect`) converts to `target`, per the tables.

    Targets without a direct table for `dialect` (e.g. aten -> tensorrt) are reached through the
    hop graph; the verdict then names the failing hop (`hop="onnx->tensorrt"`). `args` (the node's
    constant arguments) select an argument-dependent variant where the table has one.
    """
    target = parse_target(target) if isinstance(target, str) else target
    verdict = _support_at(op, target, dialect, args)
    if verdict.status is Status.UNSUPPORTED:
        for later in target.later_versions():
            if _support_at(op, Target(target.family, later), dialect, args).status is Status.SUPPORTED:
                return Verdict(**{**verdict.__dict__, "since": later})
    return verdict


def dtype_support(dtype: str, target: Target | str, dialect: str = "aten") -> Verdict:
    """How `target` treats tensors of `dtype` ("float64", "int64", ...), per the tables."""
    target = parse_target(target) if isinstance(target, str) else target
    table = load_table(dialect, target.family)
    dtypes = (table or {}).get("dtypes", {})
    per_version = dtypes.get(target.version) or dtypes.get("*") or {}
    return _verdict(per_version.get(dtype))
