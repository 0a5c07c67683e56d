"""EXL101: an operator the target's converter cannot translate."""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Iterable

from exportlint.checks import operator_support_forms as forms
from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import OpGraph, OpNode
from exportlint.tables import BOOKKEEPING_OPS, Form, Status, Verdict, has_variants, support
from exportlint.targets import Target

DEFAULT_ONNX_EXPORTER = "dynamo"
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


def version_text(target: Target, version: str) -> str:
    return {"onnx": f"opset {version}", "tensorrt": f"TensorRT {version}"}.get(target.family, version)


class UnsupportedOperator(GraphRule):
    """
    ## What it does
    Checks every operator of the captured graph against the support table of each target (ONNX opset
    N through torch.onnx's exporters, Core ML deployment target, TFLite builtins / select-TF / GPU
    delegate, TensorRT version) and reports the ones the converter cannot translate, with the first
    version that supports them when there is one. For ONNX it knows both torch exporters and says
    when only the legacy one (`dynamo=False`) reaches the opset. Ops in no table (custom ops) get a
    warning, and ops that only the converter's registry vouches for (no one-op conversion proved
    them) an info line, one per target.

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
        for target in ctx.targets:
            groups = list(_groups(graph, target))
            yield from self._unprobed_form(graph, target, groups)
            yield from self._unproven(graph, target, [(n, v) for n, v in groups if not v.decided_by
                                                      or v.status is not Status.UNVERIFIED])
            if target.family == "onnx" and graph.dialect == "aten":
                yield from self._onnx_exporters(graph, target, groups)
                continue
            for nodes, verdict in groups:
                if verdict.blocks:
                    yield from (self._blocked(graph, node, target, verdict) for node in nodes)

    def _unprobed_form(self, graph: OpGraph, target: Target, groups: list[tuple[list[OpNode], Verdict]]):
        """A warning per node whose op's support depends on its form (args, dtypes, constness) when
        no probe covered this form: the table cannot say "supported"."""
        for nodes, verdict in groups:
            if verdict.status is Status.UNVERIFIED and verdict.decided_by:
                for node in nodes:
                    yield self.finding(graph, f"{node.op} may not convert to {target}: {verdict.reason}",
                                       node=node, target=target, severity=Severity.WARNING)

    def _unproven(self, graph: OpGraph, target: Target, groups: list[tuple[list[OpNode], Verdict]]):
        """One finding per target for ops the tables do not know (a warning: custom ops, which no
        converter translates unless taught) and for ops only the registry vouches for (info). Not for
        fallback captures: their TorchScript-level ops are not the ones converters see."""
        if graph.dialect == "aten" and not graph.capture.method.startswith("torch.export"):
            return
        for status, severity, what in (
                (Status.UNKNOWN, Severity.WARNING, "in no support table (a custom op?): the converter will "
                                                   "not know it unless you register a translation"),
                (Status.UNVERIFIED, Severity.INFO, "supported per the converter's registry only; no one-op "
                                                   "conversion confirmed it (a static estimate)")):
            found = [nodes[0] for nodes, v in groups if v.status is status]
            if found:
                names = sorted({n.op for n in found})
                first = min(found, key=lambda n: (n.location is None, n.location))
                verb = "is" if len(names) == 1 else "are each"
                yield self.finding(graph, f"{', '.join(names)} {verb} {what} for {target}", node=first,
                                   target=target, severity=severity)

    def _blocked(self, graph: OpGraph, node: OpNode, target: Target, verdict: Verdict) -> Finding:
        if target == GPU_DELEGATE:  # the model still converts; the delegate leaves this op to the CPU
            return self.finding(
                graph, f"{node.op} stays on the CPU under the TFLite GPU delegate ({verdict.reason}): the "
                "model is split into GPU and CPU partitions, with a copy at each boundary",
                node=node, target=target, severity=Severity.WARNING)
        message = f"{node.op} does not convert to {target}"
        if verdict.hop:
            message += f" (fails at {verdict.hop})"
        if verdict.reason:
            message += f": {verdict.reason}"
        if verdict.since:
            message += f"; supported from {version_text(target, verdict.since)}"
        if verdict.evidence == "registry":
            message += " (per the converter's registry; no one-op conversion confirmed it)"
        return self.finding(graph, message, node=node, target=target)

    def _onnx_exporters(self, graph: OpGraph, target: Target, groups: list[tuple[list[OpNode], Verdict]]):
        """A model exports at opset N when one exporter reaches N for all its ops. Ops no exporter
        handles are errors; ops that only the legacy exporter handles are warnings (the default
        exporter silently returns a model at opset 18 for them): one warning naming them all."""
        exporters = sorted({e for _, v in groups for e in v.exporters} or {DEFAULT_ONNX_EXPORTER})
        missing = {e: [(nodes, v) for nodes, v in groups if v.exporters and v.exporters.get(e) != "supported"]
                   for e in exporters}
        covering = [e for e in exporters if not missing[e]]
        for nodes, verdict in groups:
            if verdict.blocks:
                yield from (self._blocked(graph, node, target, verdict) for node in nodes)
        if any(v.blocks for _, v in groups) or DEFAULT_ONNX_EXPORTER in covering:
            return
        stuck = sorted(missing[DEFAULT_ONNX_EXPORTER],
                       key=lambda group: (group[0][0].location is None, group[0][0].location))
        if not stuck:
            return
        first = min((nodes[0] for nodes, _ in stuck), key=lambda n: (n.location is None, n.location))
        ops = ", ".join(f"{n[0].op.split('.')[1]}" + (f" (line {n[0].location.line})" if n[0].location else "")
                        for n, _ in stuck)
        if covering:
            yield self.finding(
                graph, f"torch.onnx.export's default exporter cannot produce {target} for this model: "
                f"{ops} {'stops' if len(stuck) == 1 else 'stop'} its down-conversion from opset 18, and it then returns an opset-18 model "
                f"without an error. Export with dynamo=False (the {covering[0]} exporter reaches {target}), "
                "or target opset 18", node=first, target=target, severity=Severity.WARNING)
        else:
            others = ", ".join(sorted({n[0].op for e in exporters if e != DEFAULT_ONNX_EXPORTER
                                       for n, _ in missing[e]}))
            yield self.finding(
                graph, f"no single torch exporter produces {target} for this model: the default exporter "
                f"cannot reach it for {ops}, and {others} stop the legacy exporter (dynamo=False)",
                node=first, target=target)


def _groups(graph: OpGraph, target: Target) -> Iterable[tuple[list[OpNode], Verdict]]:
    """(nodes, verdict) per op; per op and node form (args, input dtypes/ranks/constness) where the
    table's verdict depends on the form."""
    for op, nodes in graph.by_op.items():
        if op in BOOKKEEPING_OPS:
            continue
        if not has_variants(op, target, graph.dialect):
            yield nodes, support(op, target, graph.dialect)
            continue
        by_form: dict[str, list[OpNode]] = defaultdict(list)
        for node in nodes:
            by_form[Form.of(node).key()].append(node)
        for same in by_form.values():
            yield same, support(op, target, graph.dialect, same[0])
