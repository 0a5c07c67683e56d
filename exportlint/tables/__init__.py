"""Support tables: which op converts to which target, generated from the real converters.

Tables are JSON files under the top-level `rules/tables/` (shipped in the wheel as
`exportlint.ruledata`), one per (dialect, family): `aten-onnx.json`, `aten-coreml.json`, ...
File schema (``schema_version`` 1; the JSON Schema `rules/table.schema.json` every table is tested
against)::

    {"schema_version": 1, "dialect": "aten", "family": "onnx", "versions": ["9", ..., "23"],
     "provenance": {"generator": ..., "generator_version": ..., "generated": "YYYY-MM-DD",
                    "libraries": {"torch": "2.13.0+cpu", ...}, "sources": [...], ...},
     "ops": {"aten.grid_sampler_2d.default": {"*": ENTRY, "16": ENTRY, ...}}}

``"partial": true`` marks a table whose probe run stopped before the end (its budget): an ATen op it
does not list is "unverified" (not probed yet), not unknown.

Optional ``"dtypes": {VERSION_OR_*: {"float64": ENTRY, "int64": ENTRY, ...}}`` says how the target
treats each dtype (``status`` "supported", "unsupported", or "narrowed": silently cast to 32 bits).

An ENTRY is ``{"status": "supported"|"unsupported"|"unverified"|"fallback", "reason": str, "evidence":
"probe"|"registry"|"docs", "via": str, "note": str, "produces": [OP, ...], ...}``; the key is a version
of the family, or ``"*"`` for every version not listed. ``note`` is context in words that no rule reads
(older tables, tf-* and onnx-tensorrt, still call it ``conditions``). ``produces`` lists the target's
ops the deciding probe made (older tables: ``onnx_ops``, ``mil_ops``, ``tflite_ops``). ``fallback``
(a delegate version, e.g. ``executorch:xnnpack``): the model converts, but the delegate does not take
the op, which runs on the runtime's own CPU kernels.

Conditions (support that depends on the node's form)
----------------------------------------------------
When the probes of an op disagree at a version (one form converts, another fails), the ENTRY is
``{"status": "unverified", "evidence": "probe", "decided_by": [FIELD, ...], "defaults": {NAME: VALUE},
"variants": [VARIANT, ...]}`` and every probed form is a VARIANT ``{"match": MATCH, "status": ...,
"reason": ..., "probe": ...}`` with its own verdict. A MATCH is any subset of::

    {"args":   {NAME: VALUE},        # the constant argument (ATen schema name) equals VALUE
                                     # (JSON-equal: 1 and 1.0 differ; absent -> the schema default
                                     # from "defaults")
     "given":  {NAME: true|false},   # the argument is / is not written (absent, None or [] = not)
     "inputs": {"INDEX": {"dtype": "float64", "const": true|false, "rank": 4}},
                                     # the INDEX-th tensor input (0-based, in the node's order): its
                                     # dtype, rank, and whether it is a parameter, buffer or lifted
                                     # constant (or computed from those alone) rather than computed
                                     # from the user's inputs
     "users":  {STEM: true|false}}   # an op named STEM (`op_stem`: "grid_sampler") reads / does not
                                     # read its output: a converter that fuses a pattern (Core ML's
                                     # affine_grid into grid_sample) converts the op only inside it

A node's `Form` (its args, and per tensor input dtype, rank and constness) is matched against the
variants, most specific first; the first match gives the verdict. A node whose form matches no variant
gets the ENTRY's own "unverified" with a reason naming what decides support (`decided_by`, e.g.
``["args.mode"]``) and that its form was not probed; so does a node whose form is not known (graphs
without constant arguments, e.g. from torch.jit.trace). Ops whose probes all agree have no variants.
In aten-onnx an op whose probed forms all convert, but through different exporters, keeps its status
and has variants without `decided_by`: a probed form gets its variant's `exporters`, another form the
entry's (an exporter is "unverified" where the forms disagree for it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any, Iterable

from exportlint.ir import OpGraph, OpNode
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
    # converts, but the target's delegate does not take it: it runs on the runtime's fallback kernels
    # (ExecuTorch's portable kernels), slower
    FALLBACK = "fallback"


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str = ""  # the converter's first error line, or the registry / docs fact
    evidence: str = ""  # "probe", "registry", "docs"
    via: str = ""  # which exporter / path reaches the target ("dynamo", "torchscript")
    hop: str = ""  # the conversion hop that fails ("torch->onnx", "onnx->tensorrt")
    since: str | None = None  # first later version of the family where the op is supported
    note: str = ""  # context in words (e.g. "static estimate"); no rule reads it
    exporters: dict[str, str] = field(default_factory=dict)  # onnx: status per exporter (dynamo, ...)
    produces: tuple[str, ...] = ()  # the target's ops a probe saw it become (ONNX, MIL or TFLite ops)
    # The op's support depends on these form fields ("args.mode", "inputs.0.const", ...): set on the
    # "unverified" verdict of a node whose form no probe covered, and on a matched variant's verdict.
    decided_by: tuple[str, ...] = ()
    form: str = ""  # the probed form that decided a variant's verdict, in words ("mode='circular'")
    # Quantization tables (`Family.precisions`): quantized only when its input is (it shares the input's
    # qparams), or folded into a directly preceding op of these kinds (batch_norm into conv).
    shares_input: bool = False
    fuses_after: tuple[str, ...] = ()
    output_quantized: bool = False  # partly float, but its output is quantized (the op that ends it is)
    fails_if_feeds: tuple[str, ...] = ()  # "unsupported" only where the result reaches one of these ops
    # no annotator takes it, and the converter quantizes it: where its input is quantized or every reader quantizes
    # it (`same_scale`: it keeps its input's scale), or only where both (`between_quantized`: TFLite's add)
    same_scale: bool = False
    between_quantized: bool = False
    no_own_op: bool = False  # no target op of its own (fused into the op before it): it passes its readers' on

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


@dataclass(frozen=True)
class InputForm:
    """One tensor input of a node, as far as support can depend on it."""

    dtype: str | None = None
    rank: int | None = None
    const: bool | None = None  # a parameter / buffer / lifted constant (or computed from them alone)


@dataclass(frozen=True)
class Form:
    """What besides its op name decides whether a node converts: its constant arguments (None: the
    capture did not record them) and its tensor inputs."""

    args: dict[str, Any] | None = None
    inputs: tuple[InputForm, ...] = ()
    users: frozenset[str] | None = None  # the `op_stem`s of the ops reading its outputs; None: not known

    @classmethod
    def of(cls, node: OpNode, graph: OpGraph | None = None) -> Form:
        # torch.jit.trace graphs name ops without overload and record no constant arguments
        args_known = node.dialect != "aten" or node.op.count(".") >= 2
        const = node.const_inputs or (None,) * len(node.inputs)
        users = frozenset(op_stem(u.op) for u in graph.successors(node)) if graph is not None else None
        return cls(args=dict(node.args) if args_known else None, inputs=tuple(
            InputForm(t.dtype, len(t.shape) if t.shape is not None else None, c)
            for t, c in zip(node.inputs, const)), users=users)

    def key(self) -> str:
        """A canonical text of the form: nodes with equal keys get equal verdicts."""
        return json.dumps([self.args, [[i.dtype, i.rank, i.const] for i in self.inputs],
                           sorted(self.users) if self.users is not None else None], sort_keys=True, default=str)


def op_stem(op: str) -> str:
    """An op's name without namespace and overload, alike in both dialects: `aten.grid_sampler.default`
    and `aten::grid_sampler` -> `grid_sampler`."""
    return op.split("::", 1)[1] if "::" in op else op.split(".")[1] if "." in op else op


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


_MISSING = object()


def matches(match: dict[str, Any], form: Form, defaults: dict[str, Any] | None = None) -> bool:
    """Whether a node of `form` is in the probed form `match` (see the module doc)."""
    defaults = defaults or {}
    if (match.get("args") or match.get("given")) and form.args is None:
        return False
    for name, want in (match.get("args") or {}).items():
        have = form.args.get(name, defaults.get(name, _MISSING))
        if have is _MISSING or not _same(have, want):
            return False
    for name, want in (match.get("given") or {}).items():
        if (form.args.get(name) not in (None, [])) is not bool(want):
            return False
    for index, want in (match.get("inputs") or {}).items():
        i = int(index)
        if i >= len(form.inputs):
            return False
        have = form.inputs[i]
        for fld, value in want.items():
            got = getattr(have, fld, None)
            if got is None or got != value:
                return False
    for stem, want in (match.get("users") or {}).items():
        if form.users is None or (stem in form.users) is not bool(want):
            return False
    return True


def match_fields(match: dict[str, Any]) -> list[str]:
    """The fields a match tests: "args.mode", "given.stride", "inputs.0.dtype"."""
    return sorted([f"args.{n}" for n in match.get("args") or {}] + [f"given.{n}" for n in match.get("given") or {}]
                  + [f"inputs.{i}.{f}" for i, w in (match.get("inputs") or {}).items() for f in w]
                  + [f"users.{n}" for n in match.get("users") or {}])


def describe(match: dict[str, Any]) -> str:
    """A match in words: "mode='circular'", "stride not given", "input 0 float64, computed"."""
    parts = [f"{n}={v!r}" for n, v in sorted((match.get("args") or {}).items())]
    parts += [f"{n} {'given' if g else 'not given'}" for n, g in sorted((match.get("given") or {}).items())]
    for i, want in sorted((match.get("inputs") or {}).items()):
        words = [str(want["dtype"])] if "dtype" in want else []
        words += [f"rank {want['rank']}"] if "rank" in want else []
        if "const" in want:
            words.append("a parameter/constant" if want["const"] else "computed from the inputs")
        parts.append(f"input {i} {' '.join(words)}")
    parts += [f"{'read' if read else 'not read'} by {n}" for n, read in sorted((match.get("users") or {}).items())]
    return ", ".join(parts)


def _describe_form(form: Form, fields: Iterable[str]) -> str:
    """The node's values of the deciding fields, in words."""
    out = []
    for f in fields:
        kind, _, rest = f.partition(".")
        if kind in ("args", "given") and form.args is None:
            out.append(f"{rest} unknown (not captured)")
        elif kind == "args":
            out.append(f"{rest}={form.args[rest]!r}" if rest in form.args else f"{rest} default")
        elif kind == "given":
            out.append(f"{rest} {'given' if form.args.get(rest) not in (None, []) else 'not given'}")
        elif kind == "users":
            out.append("readers unknown" if form.users is None
                       else f"{'read' if rest in form.users else 'not read'} by {rest}")
        else:
            index, _, fld = rest.partition(".")
            value = getattr(form.inputs[int(index)], fld, None) if int(index) < len(form.inputs) else None
            out.append(f"input {index} {fld}={value if value is not None else 'unknown'}")
    return ", ".join(dict.fromkeys(out))


def _variant_order(variant: dict[str, Any]) -> tuple[int, str]:
    return (-len(match_fields(variant["match"])), json.dumps(variant["match"], sort_keys=True))


def _entry(table: dict[str, Any], op: str, version: str, form: Form | None = None) -> dict[str, Any] | None:
    """The entry for `op` at `version`. Where support depends on the node's form (the entry has
    `variants`), the variant that `form` matches, else the entry's "unverified" with a reason naming
    what decides support and that this form was not probed."""
    ops = table["ops"]
    for key in candidate_keys(op):
        per_version = ops.get(key)
        if per_version is None:
            continue
        entry = per_version.get(version) or per_version.get("*")
        variants = (entry or {}).get("variants")
        if not variants:
            return entry
        base = {k: v for k, v in entry.items() if k not in ("variants", "defaults")}
        if form is not None:
            for variant in sorted(variants, key=_variant_order):
                if matches(variant["match"], form, entry.get("defaults")):
                    out = {**{k: v for k, v in base.items() if k != "reason"},  # the entry's "not probed"
                           **{k: v for k, v in variant.items() if k != "match"}}
                    out["form"] = describe(variant["match"])
                    return out
        if not entry.get("decided_by"):  # every probed form has the entry's status (ONNX: per exporter)
            return base
        fields = entry["decided_by"]
        probed = "; ".join(f"{describe(v['match'])} {'converts' if v['status'] == 'supported' else 'fails'}"
                           + (f" ({v['reason']})" if v.get("reason") and v["status"] != "supported" else "")
                           for v in sorted(variants, key=_variant_order))
        if form is None:  # a question about the op, not about a node
            base["reason"] = f"support depends on {', '.join(fields)}; probed: {probed}"
        else:
            base["reason"] = (f"support depends on {', '.join(fields)} and this form "
                              f"({_describe_form(form, fields)}) was not probed; probed: {probed}")
        return base
    return None


def has_variants(op: str, target: Target, dialect: str = "aten") -> bool:
    """Whether the op's support at `target` depends on the node's form (then pass `form` to `support`)."""
    hop = _first_hop(target, dialect)
    table = load_table(dialect, hop.family)
    per_version = next((table["ops"][k] for k in candidate_keys(op) if k in table["ops"]), None) if table else None
    entry = (per_version.get(hop.version) or per_version.get("*")) if per_version else None
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
        note=entry.get("note") or entry.get("conditions", ""),
        exporters=entry.get("exporters", {}),
        produces=tuple(entry.get("produces") or entry.get("onnx_ops") or entry.get("mil_ops")
                       or entry.get("tflite_ops") or ()),
        decided_by=tuple(entry.get("decided_by", ())),
        form=entry.get("form", ""),
        shares_input=entry.get("shares_input", False),
        fuses_after=tuple(entry.get("fuses_after", ())),
        output_quantized=entry.get("output_quantized", False),
        fails_if_feeds=tuple(entry.get("fails_if_feeds", ())),
        same_scale=entry.get("same_scale", False),
        between_quantized=entry.get("between_quantized", False),
        no_own_op=entry.get("no_own_op", False),
    )


# Multi-hop conversion paths. A target family without a table for a dialect is reached through the
# intermediate format its unit names (`Family.via`, e.g. TensorRT through ONNX), at the version of the
# intermediate its unit picks for each of its own versions (`Family.hop_version`).
_RANK = {Status.SUPPORTED: 0, Status.FALLBACK: 1, Status.UNVERIFIED: 2, Status.UNKNOWN: 3, Status.UNSUPPORTED: 4}


def _has_table(dialect: str, family: str) -> bool:
    return load_table(dialect, family) is not None


def conversion_path(dialect: str, family: str) -> list[tuple[str, str, str]]:
    """The hops (from, to, hop name) from `dialect` to `family`; [] when a direct table exists."""
    from exportlint.family import all_families

    unit = all_families().get(family)
    return unit.route(dialect, _has_table) if unit else []


def _hop_target(target: Target, dst: str) -> Target:
    """The target of the hop into `dst` (the intermediate format, or the final family) for `target`."""
    return Target(dst, target.unit.hop_version(dst, target.version))


def _direct(op: str, target: Target, dialect: str, form: Form | None = None) -> Verdict:
    table = load_table(dialect, target.family)
    if table is None:  # no generated table: nothing is decided, nothing is known to fail
        return Verdict(Status.UNVERIFIED, reason=f"no {dialect}-{target.family} table")
    entry = _entry(table, op, target.version, form)
    if entry is None and table.get("partial") and op.startswith("aten."):
        return Verdict(Status.UNVERIFIED, reason=f"not probed yet for {target} (the {dialect}-{target.family} "
                                                 "table's probe run is partial)")
    return _verdict(entry)


def _first_hop(target: Target, dialect: str) -> Target:
    """The target of the first conversion hop from `dialect` (the target itself when direct)."""
    path = conversion_path(dialect, target.family)
    return _hop_target(target, path[0][1]) if path else target


def _multi_hop(op: str, target: Target, dialect: str, path: list[tuple[str, str, str]],
               form: Form | None = None) -> Verdict:
    """Compose the hops: the ops after one hop (`onnx_ops` recorded by probes) feed the next.
    The verdict is the worst hop's, naming that hop."""
    ops, verdicts = [op], []
    for src, dst, name in path:
        hop_target = _hop_target(target, dst)
        table = load_table(src, dst)
        produced: set[str] = set()
        for current in ops:
            own_form = form if current == op else None
            v = _direct(current, hop_target, src, own_form)
            detail = f"{current} at {hop_target}: " if current != op else ""
            verdicts.append(Verdict(**{**v.__dict__, "hop": name, "reason": detail + v.reason}))
            entry = _entry(table, current, hop_target.version, own_form) if table else None
            produced.update((entry or {}).get("onnx_ops", []))
        worst = max(verdicts, key=lambda v: _RANK[v.status])
        if worst.status is Status.UNSUPPORTED:
            return worst
        if dst != target.family and not produced:
            return Verdict(Status.UNVERIFIED, hop=name, via=worst.via, reason=(
                f"no probe recorded which {dst} ops {op} becomes at {hop_target}"))
        ops = sorted(produced)
    worst = max(verdicts, key=lambda v: _RANK[v.status])
    note = "; ".join(sorted({v.note for v in verdicts if v.note}))
    decided_by = tuple(sorted({f for v in verdicts for f in v.decided_by}))
    return Verdict(worst.status, reason=worst.reason if worst.status is not Status.SUPPORTED else "",
                   evidence=worst.evidence, via="->".join([dialect, *(d for _, d, _ in path)]),
                   hop=worst.hop if worst.status is not Status.SUPPORTED else "",
                   note=note, decided_by=decided_by, form=worst.form)


def _support_at(op: str, target: Target, dialect: str, form: Form | None) -> Verdict:
    path = conversion_path(dialect, target.family)
    return _multi_hop(op, target, dialect, path, form) if path else _direct(op, target, dialect, form)


def support(op: str, target: Target | str, dialect: str = "aten", form: Form | OpNode | None = None
            ) -> Verdict:
    """Whether `op` (a qualified op name in `dialect`) converts to `target`, per the tables.

    Targets without a direct table for `dialect` (e.g. aten -> tensorrt) are reached through the
    hop graph; the verdict then names the failing hop (`hop="onnx->tensorrt"`). `form` (a graph node,
    or its `Form`: constant arguments, input dtypes, ranks, constness) selects the probed variant
    where support depends on it; a form no probe covered (or no form) gets "unverified" there.
    """
    target = parse_target(target) if isinstance(target, str) else target
    if isinstance(form, OpNode):
        form = Form.of(form)
    verdict = _support_at(op, target, dialect, form)
    if verdict.status is Status.UNSUPPORTED:
        for later in target.later_versions():
            if _support_at(op, Target(target.family, later), dialect, form).status is Status.SUPPORTED:
                return Verdict(**{**verdict.__dict__, "since": later})
    return verdict


def quant_support(op: str, target: Target, dialect: str = "aten", form: Form | OpNode | None = None) -> Verdict:
    """How `op` fares when `target` is quantized to its precision, per the precision's table: "supported"
    (quantized), "fallback" (stays float, with why), "unsupported" (quantization fails), "unverified"/"unknown"
    (not probed). The table is probed at one version of the family (entries under "*")."""
    precision = target.unit.precisions[target.precision]
    table = load_table(*precision.table.split("-", 1))
    if table is None:
        return Verdict(Status.UNVERIFIED, reason=f"no {precision.table} table")
    if isinstance(form, OpNode):
        form = Form.of(form)
    entry = _entry(table, op, table["versions"][0], form)
    if entry is None and table.get("partial") and op.startswith("aten."):
        return Verdict(Status.UNVERIFIED, reason=f"not probed yet for {target} (the {precision.table} probe run is partial)")
    return _verdict(entry)


def dtype_support(dtype: str, target: Target | str, dialect: str = "aten") -> Verdict:
    """How `target` treats tensors of `dtype` ("float64", "int64", ...), per the tables."""
    target = parse_target(target) if isinstance(target, str) else target
    table = load_table(dialect, target.family)
    dtypes = (table or {}).get("dtypes", {})
    per_version = dtypes.get(target.version) or dtypes.get("*") or {}
    return _verdict(per_version.get(dtype))
