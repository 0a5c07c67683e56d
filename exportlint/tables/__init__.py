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
    """Table keys to try for an op: exact overload, in-place → functional, then the packet name."""
    keys = [op]
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


def _entry(table: dict[str, Any], op: str, version: str) -> dict[str, Any] | None:
    ops = table["ops"]
    for key in candidate_keys(op):
        per_version = ops.get(key)
        if per_version is not None:
            return per_version.get(version) or per_version.get("*")
    return None


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
    )


def support(op: str, target: Target | str, dialect: str = "aten") -> Verdict:
    """Whether `op` (a qualified op name in `dialect`) converts to `target`, per the tables."""
    target = parse_target(target) if isinstance(target, str) else target
    table = load_table(dialect, target.family)
    if table is None:
        return Verdict(Status.UNKNOWN, reason=f"no {dialect}-{target.family} table")
    verdict = _verdict(_entry(table, op, target.version))
    if verdict.status is Status.UNSUPPORTED:
        for later in target.later_versions():
            entry = _entry(table, op, later)
            if entry is not None and entry["status"] == Status.SUPPORTED.value:
                return Verdict(**{**verdict.__dict__, "since": later})
    return verdict


def dtype_support(dtype: str, target: Target | str, dialect: str = "aten") -> Verdict:
    """How `target` treats tensors of `dtype` ("float64", "int64", ...), per the tables."""
    target = parse_target(target) if isinstance(target, str) else target
    table = load_table(dialect, target.family)
    dtypes = (table or {}).get("dtypes", {})
    per_version = dtypes.get(target.version) or dtypes.get("*") or {}
    return _verdict(per_version.get(dtype))
