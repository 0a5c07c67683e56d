"""EXL101: an operator the target's converter cannot translate."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from typing import Iterable

from exportlint.checks import operator_support_forms as forms
from exportlint.decide import NUMERICS_CAVEAT
from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import OpGraph, OpNode
from exportlint.tables import BOOKKEEPING_OPS, Form, Status, Verdict, dtype_support, has_variants, support
from exportlint.targets import TRACE_GRAPH, ConversionPath, Target

GPU_DELEGATE = Target("tflite", "gpu")


def _grid_sample():
    import torch
    import torch.nn.functional as F

    class Warp(torch.nn.Module):
        def forward(self, x, grid):
            return F.grid_sample(x, grid, align_corners=False)  # expect: EXL101

    return Warp(), (torch.randn(1, 3, 8, 8), torch.rand(1, 8, 8, 2) * 2 - 1)


@cache
def _twice():
    """A custom op (torch.library): in no converter's table. Registered once per process."""
    import torch

    @torch.library.custom_op("exportlint_example::twice", mutates_args=(), schema="(Tensor x) -> Tensor")
    def twice(x):
        return x * 2

    twice.register_fake(lambda x: torch.empty_like(x))
    return twice


def _custom_op():
    import torch

    twice = _twice()

    class Scale(torch.nn.Module):
        def forward(self, x):
            return twice(torch.relu(x))  # expect: EXL101

    return Scale(), (torch.randn(2, 4),)


def _plain_conv():
    import torch

    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()), (torch.randn(1, 3, 8, 8),)


class UnsupportedOperator(GraphRule):
    """
    ## What it does
    Checks every operator against the support table of each target (ONNX opset N, Core ML
    deployment target, TFLite builtins / select-TF / GPU delegate, TensorRT version) and each of its
    conversion paths, on the graph that path sees: torch.export's ATen graph for the default ONNX
    exporter (`dynamo`), Core ML from an ExportedProgram (`export`) and litert-torch; the
    torch.jit.trace graph for the TorchScript exporter (`dynamo=False`) and Core ML from a traced
    module (`trace`). It reports the ops a path cannot translate, with the first version that
    supports them when there is one. An op in no table of a complete registry (ATen, TorchScript,
    ONNX: a custom op; for TensorFlow, coremltools' TF registry and tf2onnx's handlers) is an error: the
    converter does not know it. TensorFlow targets are decided by their converters on the captured graph
    (`decide_tf`) by default. Ops whose support the tables
    cannot decide get one warning per target and path, ops only the converter's registry vouches
    for an info line. Where a path was run for real (`decide`: by default the ONNX paths and every
    path with an op no probe proved or one the tables say fails, every converter with `--confirm`), its answer wins:
    a failure no table predicted is reported with
    the converter's error, a table blocker the converter disproved becomes an info line.

    ## Why is this bad?
    The converter stops at the first operator it cannot translate, usually after a long export, and
    names an internal ATen op rather than the line of your model. The tables are generated from the
    installed converters and checked by converting one-op models, so the verdict here is the
    converter's own.

    ## Example
    ```python
    return F.grid_sample(x, grid)  # ONNX GridSample exists from opset 16
    ```
    checked with `--target onnx:13`.

    ## Use instead
    Raise the target (`--target onnx:17`), or replace the operator by ones the target supports.

    ## Fix safety
    No automatic fix.
    """

    code = "EXL101"
    slug = "unsupported-operator"
    summary = "An operator that the target's converter cannot translate."
    severity = Severity.ERROR
    dialects = ("aten", "onnx", "tf")
    invalid = (Example(build=_grid_sample, targets=("onnx:13",)),
               Example(build=_custom_op, targets=("onnx:18", "coreml:iOS16")), *forms.INVALID)
    valid = (Example(build=_grid_sample, targets=("onnx:17",)),
             Example(build=_plain_conv, targets=("onnx:18", "coreml:iOS16", "tflite", "tensorrt:10")),
             *forms.VALID)

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        decided = {(d.target, d.path): d for d in ctx.decisions if d.converted is not None}
        for target in ctx.targets:
            for path in target.paths(graph.dialect):
                seen = path_graph(graph, path)
                if seen is None:  # not captured: EXL001 says why
                    continue
                groups = list(op_verdicts(seen, target, path))
                yield from _delegation(self, seen, target, path, groups)
                yield from self._unprobed_form(seen, target, path, groups)
                yield from self._unproven(seen, target, path, groups)
                blockers = [self._blocked(seen, node, target, path, v)
                            for nodes, v in groups if _blocks(v, seen.dialect, target.family) for node in nodes]
                decision = decided.get((str(target), path.name))
                yield from (blockers if decision is None else self._decided(seen, target, path, blockers, decision))

    def _unprobed_form(self, graph: OpGraph, target: Target, path: ConversionPath,
                       groups: list[tuple[list[OpNode], Verdict]]) -> Iterable[Finding]:
        """A warning per node whose op's support depends on its form (args, dtypes, constness) when
        no probe covered this form: the table cannot say "supported"."""
        for nodes, verdict in groups:
            if verdict.status is Status.UNVERIFIED and verdict.decided_by:
                for node in nodes:
                    yield self.finding(graph, f"{node.op} may not convert to {_where(target, path)}: "
                                       f"{verdict.reason}", node=node, target=target, severity=Severity.WARNING,
                                       paths=(path.name,))

    def _unproven(self, graph: OpGraph, target: Target, path: ConversionPath,
                  groups: list[tuple[list[OpNode], Verdict]]) -> Iterable[Finding]:
        """One line per target and path for ops no probe proved: a warning where support depends on
        a form no probe covered or the op is in no table of a front end whose tables are partial
        (TensorFlow), an info line where only the converter's registry vouches for them."""
        kinds = (
            (lambda v: _undecided(v, graph.dialect, target.family) and not v.decided_by, Severity.WARNING,
             "not decided by the tables"),
            (lambda v: _registry_only(v) and not _undecided(v, graph.dialect, target.family), Severity.INFO,
             "supported per the converter's registry only; no one-op conversion confirmed it (a static estimate)"),
        )
        for pick, severity, what in kinds:
            found = [(nodes[0], v) for nodes, v in groups if pick(v)]
            if found:
                names = sorted({n.op for n, _ in found})
                reasons = sorted({v.reason for _, v in found if v.reason and severity is Severity.WARNING})
                first = min((n for n, _ in found), key=lambda n: (n.location is None, n.location))
                verb = "is" if len(names) == 1 else "are each"
                why = f" ({'; '.join(reasons[:3])})" if reasons else ""
                yield self.finding(graph, f"{', '.join(names)} {verb} {what} for {_where(target, path)}{why}",
                                   node=first, target=target, severity=severity, paths=(path.name,))

    def _blocked(self, graph: OpGraph, node: OpNode, target: Target, path: ConversionPath,
                 verdict: Verdict) -> Finding:
        if target == GPU_DELEGATE:  # the model still converts; the delegate leaves this op to the CPU
            return self.finding(
                graph, f"{node.op} stays on the CPU under the TFLite GPU delegate ({verdict.reason}): the "
                "model is split into GPU and CPU partitions, with a copy at each boundary",
                node=node, target=target, severity=Severity.WARNING, paths=(path.name,))
        if verdict.status is Status.UNKNOWN:
            message = (f"{node.op} is in no support table for {_where(target, path)}: the converter does not "
                       "know it (a custom op converts only with a registered translation)")
        else:
            message = f"{node.op} does not convert to {_where(target, path)}"
        if verdict.hop:
            message += f" (fails at {verdict.hop})"
        if verdict.reason:
            message += f": {verdict.reason}"
        if verdict.since:
            message += f"; supported from {target.unit.version_text(verdict.since)}"
        if verdict.evidence == "registry" and verdict.status is Status.UNSUPPORTED:
            message += " (per the converter's registry; no one-op conversion confirmed it)"
        return self.finding(graph, message, node=node, target=target, paths=(path.name,))

    def _decided(self, graph: OpGraph, target: Target, path: ConversionPath, blockers: list[Finding],
                 decision) -> Iterable[Finding]:
        """The converter's answer wins over the tables: agreeing blockers stand, a blocker the
        converter disproved becomes an info line, a failure no table predicted an error."""
        how = f"{path.call} was run ({decision.by})"
        if decision.converted and decision.detail.startswith(NUMERICS_CAVEAT):
            yield self.finding(graph, f"{path.call} {decision.detail} for {target}: the exported model computes "
                               "something else", node=_named_node(graph, decision.detail), target=target,
                               severity=Severity.WARNING, paths=(path.name,))
        if decision.converted and blockers:
            ops = ", ".join(dict.fromkeys(f.op for f in blockers if f.op))
            yield replace(blockers[0], severity=Severity.INFO, message=(
                f"the tables predict that {ops} stop {_where(target, path)}, but {how} and converted the "
                "model: the tables are conservative here"))
        elif not decision.converted:
            if blockers:
                yield replace(blockers[0], message=f"{blockers[0].message} ({how}: {decision.detail})")
                yield from blockers[1:]
            else:
                node = _named_node(graph, decision.detail)
                yield self.finding(graph, f"{path.call} fails for {target}: {decision.detail} ({how}; the "
                                   "tables found no blocker)", node=node, target=target, paths=(path.name,))


def _delegation(rule: GraphRule, graph: OpGraph, target: Target, path: ConversionPath,
                groups: list[tuple[list[OpNode], Verdict]]) -> Iterable[Finding]:
    """At a delegate (`Family.delegates`, e.g. executorch:xnnpack): a warning per op the delegate does
    not take (it runs on the runtime's fallback kernels), and the model's delegation summary."""
    if target.version not in target.unit.delegates:
        return
    fallback = [(nodes, v) for nodes, v in groups if v.status is Status.FALLBACK]
    for nodes, verdict in fallback:
        first = min(nodes, key=lambda n: (n.location is None, n.location))
        yield rule.finding(graph, f"{first.op} falls back from {_where(target, path)}: {verdict.reason}",
                           node=first, target=target, severity=Severity.WARNING, paths=(path.name,))
    count = {s: sum(len(nodes) for nodes, v in groups if v.status is s) for s in Status}
    total = sum(count.values())
    if total:
        parts = [f"{count[Status.SUPPORTED]} of {total} op nodes ({count[Status.SUPPORTED] / total:.0%}) delegated"
                 + (f" in {_partitions(graph, groups)} partition(s)" if fallback else "")]
        if fallback:
            parts.append(f"{count[Status.FALLBACK]} fall back ("
                         + ", ".join(f"{nodes[0].op} x{len(nodes)}" for nodes, _ in fallback) + ")")
        undecided = total - count[Status.SUPPORTED] - count[Status.FALLBACK]
        if undecided:
            parts.append(f"{undecided} not delegated or not decided")
        yield rule.finding(graph, f"delegation summary for {_where(target, path)}, per the tables: "
                           + "; ".join(parts), target=target, severity=Severity.INFO, paths=(path.name,))


def _partitions(graph: OpGraph, groups: list[tuple[list[OpNode], Verdict]]) -> int:
    """The delegated subgraphs: connected parts of the graph's delegated nodes (a node left to the
    fallback kernels between two delegated ones splits them, with a copy at each boundary)."""
    import networkx

    taken = [n.name for nodes, v in groups if v.status is Status.SUPPORTED for n in nodes]
    return networkx.number_weakly_connected_components(graph.nx.subgraph(taken)) if taken else 0


# Dialects whose tables list every op the converter knows: an op in none of them does not convert.
COMPLETE_DIALECTS = ("aten", "torchscript", "onnx")
# The same for TensorFlow's front ends whose tables hold a complete registry: coremltools' TF frontend
# registry, tf2onnx's handlers. The TFLite converter has no registry: its tables hold probed ops only.
COMPLETE_TF_FAMILIES = ("coreml", "onnx")


def _complete(dialect: str, family: str) -> bool:
    return dialect in COMPLETE_DIALECTS or (dialect == "tf" and family in COMPLETE_TF_FAMILIES)


def _undecided(verdict: Verdict, dialect: str, family: str) -> bool:
    """The tables cannot say: a form of a condition-dependent op no probe covered, a missing table,
    an op in no table of a front end whose tables are partial (TFLite from TensorFlow), or, for
    TensorFlow, a claim of the converter's registry alone (a handler is no proof: tf2onnx and
    coremltools have handlers for the While and TensorList ops of Keras 3's RNNs, which do not convert)."""
    if verdict.status is Status.UNKNOWN:
        return not _complete(dialect, family)
    return verdict.status is Status.UNVERIFIED and (verdict.evidence != "registry" or dialect == "tf")


def _registry_only(verdict: Verdict) -> bool:
    return verdict.status is Status.UNVERIFIED and verdict.evidence == "registry"


def paths_to_convert(graph: OpGraph, targets: Iterable[Target]) -> set[tuple[str, str]]:
    """(target, path) pairs where `decide` runs the converter: an op no probe proved (the tables cannot
    decide it, or only the converter's registry vouches for it), or one the tables say fails (a one-op
    probe cannot see every pattern a converter fuses: its answer on the whole model is the verdict)."""
    out = set()
    for target in targets:
        for path in target.paths(graph.dialect):
            seen = path_graph(graph, path)
            if seen is not None and any(_undecided(v, seen.dialect, target.family) or _registry_only(v)
                                        or _blocks(v, seen.dialect, target.family)
                                        for _, v in op_verdicts(seen, target, path)):
                out.add((str(target), path.name))
    return out


def proven_paths(graph: OpGraph, targets: Iterable[Target]) -> set[tuple[str, str]]:
    """(target, path) pairs where the tables prove every op supported: nothing left for a converter to say."""
    out = set()
    for target in targets:
        for path in target.paths(graph.dialect):
            seen = path_graph(graph, path)
            if seen is not None and all(v.status is Status.SUPPORTED for _, v in op_verdicts(seen, target, path)):
                out.add((str(target), path.name))
    return out


def _blocks(verdict: Verdict, dialect: str, family: str) -> bool:
    return verdict.blocks or (verdict.status is Status.UNKNOWN and _complete(dialect, family))


def _where(target: Target, path: ConversionPath) -> str:
    return f"{target} via {path.call}" if path.name != "direct" else str(target)


def _named_node(graph: OpGraph, text: str) -> OpNode | None:
    """The located node whose op the converter's error names (`aten::lerp`, `aten.lerp.Scalar`, `lerp`)."""
    for op, nodes in graph.by_op.items():
        name = op.split("::")[-1].split(".")[1 if op.startswith(("aten.", "tf.")) else 0]
        if name and re.search(rf"\b{re.escape(name)}\b", text):
            return min(nodes, key=lambda n: (n.location is None, n.location))
    return None


def path_graph(graph: OpGraph, path: ConversionPath) -> OpGraph | None:
    """The graph `path` sees: a model file's own graph; torch.export's for the export paths (None when
    only a fallback captured the model); torch.jit.trace's for the TorchScript paths."""
    if graph.dialect not in ("aten", "torchscript"):
        return graph
    if path.graph == TRACE_GRAPH:
        return graph.capture.traced
    return graph if graph.capture.method.startswith("torch.export") else None


def path_support(op: str, target: Target, path: ConversionPath, dialect: str,
                 form: Form | OpNode | None = None) -> Verdict:
    """`support` for one conversion path: the ATen-ONNX table records each exporter's status."""
    verdict = support(op, target, dialect, form)
    status = verdict.exporters.get(path.name) if dialect == "aten" and target.family == "onnx" else None
    if status is None:
        return verdict
    return replace(verdict, status=Status(status), since=verdict.since if status == "unsupported" else None)


def op_verdicts(graph: OpGraph, target: Target, path: ConversionPath) -> Iterable[tuple[list[OpNode], Verdict]]:
    """(nodes, verdict) per op; per op and node form (args, input dtypes/ranks/constness) where the
    table's verdict depends on the form. A supported op's nodes that read a dtype the target's dtype
    table does not list (complex64 for Core ML) are "unverified": no probe fed the op such tensors."""
    for nodes, verdict in _folded(graph, target, _table_verdicts(graph, target, path)):
        odd = {n.name: d for n in nodes if verdict.status is Status.SUPPORTED
               and (d := _untabled_dtype(n, target, graph.dialect))}
        if len(odd) < len(nodes):
            yield [n for n in nodes if n.name not in odd], verdict
        for dtype in dict.fromkeys(odd.values()):
            yield [n for n in nodes if odd.get(n.name) == dtype], replace(
                verdict, status=Status.UNVERIFIED, evidence="table",
                reason=f"it reads {dtype} tensors here, a dtype {target}'s tables do not list")


def _folded(graph: OpGraph, target: Target, groups: Iterable[tuple[list[OpNode], Verdict]]
            ) -> Iterable[tuple[list[OpNode], Verdict]]:
    """Nodes of an op the family's converter folds into the op producing their input (`Family.folds`:
    BatchNorm after a convolution) take that producer's fate: supported where they would fall back alone."""
    for nodes, verdict in groups:
        producers = target.unit.folds.get(nodes[0].op) if verdict.status is Status.FALLBACK else None
        folded = [n for n in nodes if producers and any(p.op in producers for p in graph.predecessors(n))]
        if len(folded) < len(nodes):
            names = {n.name for n in folded}
            yield [n for n in nodes if n.name not in names], verdict
        if folded:
            yield folded, replace(verdict, status=Status.SUPPORTED, reason="",
                                  note=f"folded into the {folded[0].op} before it ({verdict.reason})")


def _untabled_dtype(node: OpNode, target: Target, dialect: str) -> str | None:
    """The first dtype `node` reads that the target's dtype table omits, where that table lists the
    dtypes the target computes in (it has float32); else None."""
    if dtype_support("float32", target, dialect).status is Status.UNKNOWN:
        return None
    return next((t.dtype for t in node.inputs if t.dtype
                 and dtype_support(t.dtype, target, dialect).status is Status.UNKNOWN), None)


def _table_verdicts(graph: OpGraph, target: Target, path: ConversionPath) -> Iterable[tuple[list[OpNode], Verdict]]:
    for op, nodes in graph.by_op.items():
        if op in BOOKKEEPING_OPS:
            continue
        if not has_variants(op, target, graph.dialect):
            yield nodes, path_support(op, target, path, graph.dialect)
            continue
        by_form: dict[str, tuple[Form, list[OpNode]]] = {}
        for node in nodes:
            form = Form.of(node, graph)
            by_form.setdefault(form.key(), (form, []))[1].append(node)
        for form, same in by_form.values():
            yield same, path_support(op, target, path, graph.dialect, form)
