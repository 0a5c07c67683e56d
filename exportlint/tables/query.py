"""User-facing queries over the support tables (`exportlint op`, `exportlint targets`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from exportlint.tables import Verdict, available_tables, candidate_keys, support
from exportlint.targets import all_targets


def op_support(op: str, dialect: str = "aten") -> dict[str, Verdict]:
    """The op's verdict for every target and version, keyed by target string (`onnx:13`, ...)."""
    return {str(t): support(op, t, dialect) for t in all_targets()}


@dataclass(frozen=True)
class TableSummary:
    dialect: str
    family: str
    generator: str
    generator_version: str
    generated: str
    libraries: dict[str, str]
    sources: list[str]
    ops: int  # keys in the table (overloads and packet names)
    # version -> status -> number of ops with that status at that version
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # version -> share of entries whose evidence is a probe (0..1)
    probed_share: dict[str, float] = field(default_factory=dict)


def _entry_at(per_version: dict[str, Any], version: str) -> dict[str, Any] | None:
    return per_version.get(version) or per_version.get("*")


def summarize(table: dict[str, Any]) -> TableSummary:
    prov = table.get("provenance", {})
    counts: dict[str, dict[str, int]] = {}
    probed: dict[str, float] = {}
    # aten tables also hold packet names (`aten.add`) as aliases: count the overloads only
    ops = {k: v for k, v in table["ops"].items() if table["dialect"] != "aten" or k.count(".") >= 2}
    for version in table.get("versions", []):
        entries = [e for e in (_entry_at(p, version) for p in ops.values()) if e]
        counts[version] = dict(Counter(e["status"] for e in entries))
        probed[version] = (sum(1 for e in entries if e.get("evidence") == "probe") / len(entries)
                           if entries else 0.0)
    return TableSummary(
        dialect=table["dialect"], family=table["family"], generator=prov.get("generator", ""),
        generator_version=str(prov.get("generator_version", "")),
        generated=prov.get("generated", ""), libraries=prov.get("libraries", {}),
        sources=list(prov.get("sources", [])), ops=len(ops), counts=counts,
        probed_share=probed)


def table_summaries() -> list[TableSummary]:
    """Provenance and counts of every shipped table, incl. the share of entries proven by probes."""
    return [summarize(t) for t in available_tables() if t is not None]


def normalize_op(text: str) -> str:
    """`grid_sampler`, `aten::grid_sampler`, `torch.ops.aten.grid_sampler.default` -> aten names."""
    op = text.strip().removeprefix("torch.ops.").replace("::", ".")
    return op if op.startswith("aten.") else f"aten.{op}"


def render_op(text: str, dialect: str = "aten") -> str:
    """`exportlint op`: one line per target version, grouped by family."""
    from exportlint.errors import UsageError

    op = normalize_op(text) if dialect == "aten" else text
    keys = candidate_keys(op)
    if not any(k in t["ops"] for t in available_tables() if t["dialect"] == dialect for k in keys):
        raise UsageError(f"{text!r} is in no support table (try the ATen name, e.g. grid_sampler or "
                         "aten.grid_sampler.default)")
    verdicts = op_support(op, dialect)
    lines = [f"{op}  (static tables; `exportlint targets` shows their provenance)"]
    width = max(map(len, verdicts))
    for target, v in verdicts.items():
        detail = "; ".join(x for x in (
            f"via {v.via}" if v.via else "", f"fails at {v.hop}" if v.hop else "",
            f"supported from {v.since}" if v.since else "", v.form, v.note, v.reason) if x)
        lines.append(f"  {target:<{width}}  {v.status.value:<11} {v.evidence:<8} {detail}".rstrip())
    return "\n".join(lines)


def render_summaries() -> str:
    """`exportlint targets`: each target family (from its unit), then each table's provenance and, per
    version, the counts by status and the probed share."""
    from exportlint.docs import family_lines
    from exportlint.family import all_families

    lines = []
    for unit in all_families().values():
        lines += [f"{unit.name}: {unit.title}", *(f"    {line[2:]}".replace("`", "") for line in family_lines(unit))]
    lines.append("")
    for s in table_summaries():
        libs = ", ".join(f"{k} {v}" for k, v in sorted(s.libraries.items())) or "documented facts"
        lines.append(f"{s.dialect}-{s.family}: {s.ops} ops, generated {s.generated} by {s.generator} "
                     f"v{s.generator_version} from {libs}")
        for source in s.sources:
            lines.append(f"    source: {source}")
        for version, counts in s.counts.items():
            by_status = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            proven = round(s.probed_share.get(version, 0) * s.ops)
            lines.append(f"    {s.family}:{version:<9} {by_status}; decided by one-op conversions: "
                         f"{proven} ({s.probed_share.get(version, 0):.1%})")
    return "\n".join(lines)


__all__ = ["TableSummary", "candidate_keys", "op_support", "render_op", "render_summaries", "summarize",
           "table_summaries"]
