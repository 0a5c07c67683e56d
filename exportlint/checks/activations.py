"""EXL302: activations that some targets lack, run on the CPU, or split into many ops."""

from __future__ import annotations

from typing import Iterable

from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import OpGraph, OpNode
from exportlint.tables import Status, Verdict, support
from exportlint.targets import Target

# Exotic activation -> the portable form to suggest.
_ACTIVATIONS = {
    "aten.hardsigmoid": "torch.clamp(x / 6 + 0.5, 0, 1), or torch.sigmoid(x) if the numbers may change",
    "aten.hardswish": "x * F.relu6(x + 3) / 6, or F.silu(x) if the numbers may change",
    "aten.mish": "x * torch.tanh(F.softplus(x)), or F.silu(x) if the numbers may change",
    "aten.selu": "F.elu(x, alpha=1.6733) * 1.0507",
    "aten.celu": "F.elu(x, alpha) (the same when alpha is 1)",
    "aten.hardtanh": "torch.clamp(x, min, max), or F.relu6 / nn.Hardtanh() with bounds (0, 6) or (-1, 1)",
}
_COMMON_BOUNDS = {(-1.0, 1.0), (0.0, 6.0), (0.0, 1.0)}  # Hardtanh(), ReLU6, ReLU-0-to-1


def _exotic():
    import torch
    import torch.nn.functional as F

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gate = torch.nn.Hardsigmoid()

        def forward(self, x):
            x = F.celu(x)  # expect: EXL302
            return F.hardtanh(x, 0.0, 4.0) * self.gate(x)  # expect: EXL302

    return Block(), (torch.randn(1, 8),)


def _common():
    import torch
    import torch.nn.functional as F

    class Block(torch.nn.Module):
        def forward(self, x):
            x = F.elu(x)
            return F.relu6(x) * torch.clamp(x / 6 + 0.5, 0, 1) * F.hardtanh(x)

    return Block(), (torch.randn(1, 8),)


class ExoticActivation(GraphRule):
    """
    ## What it does
    Finds hard-sigmoid, hard-swish, Mish, SELU, CELU and Hardtanh with bounds other than (-1, 1),
    (0, 6) or (0, 1) in the captured graph, and rates each per target from the support tables:
    an error where the target's converter cannot translate it, a warning where the tables do not
    confirm a direct translation (the converter decomposes it into several ops, or a GPU delegate
    runs it on the CPU and splits the model into partitions).

    ## Why is this bad?
    These activations are missing from some converters or accelerators (Core ML and ONNX Runtime's
    Core ML / NNAPI providers for hard-swish, coremltools#1166, onnxruntime#28181), so projects swap
    them by hand per target (ultralytics/yolov5#831). A CPU fallback inside a GPU-delegated model
    costs two copies per partition.

    ## Example
    ```python
    self.gate = nn.Hardsigmoid()
    x = F.hardtanh(x, 0.0, 4.0)
    ```

    ## Use instead
    ```python
    gate = torch.clamp(x / 6 + 0.5, 0, 1)   # exactly hard-sigmoid, from common ops
    x = torch.clamp(x, 0.0, 4.0)
    ```

    ## Fix safety
    No automatic fix in the graph rule (see EXL501 for the source rewrite). The clamp forms keep
    the numbers; sigmoid/SiLU replacements change them and need a check of the trained model.
    """

    code = "EXL302"
    slug = "exotic-activation-op"
    summary = "Hard-sigmoid, hard-swish, Mish, SELU, CELU or unusual Hardtanh: unsupported or slow per target."
    severity = Severity.WARNING
    invalid = (Example(build=_exotic, targets=("coreml:iOS16",)),)
    valid = (Example(build=_common, targets=("coreml:iOS16", "onnx:18")),)

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        for op, nodes in graph.by_op.items():
            base = nodes[0].base_op
            if base not in _ACTIVATIONS:
                continue
            nodes = [n for n in nodes if base != "aten.hardtanh" or _unusual_bounds(n)]
            if not nodes:
                continue
            for target in ctx.targets:
                verdict = support(op, target, graph.dialect)
                severity = _severity(verdict, target)
                if severity is None:
                    continue
                for node in _one_per_line(nodes):  # a block reused N times: one finding per line
                    yield self.finding(graph, _message(node, target, verdict, severity),
                                       node=node, target=target, severity=severity)


def _one_per_line(nodes: list[OpNode]) -> list[OpNode]:
    return list({(n.location.path, n.location.line) if n.location else n.name: n for n in reversed(nodes)}.values())


def _unusual_bounds(node: OpNode) -> bool:
    bounds = (float(node.args.get("min_val", -1.0)), float(node.args.get("max_val", 1.0)))
    return bounds not in _COMMON_BOUNDS


def _severity(verdict: Verdict, target: Target) -> Severity | None:
    if verdict.blocks:
        # A GPU delegate does not reject an op: it leaves it to the CPU, between two partitions.
        return Severity.WARNING if target.version == "gpu" else Severity.ERROR
    if verdict.status is Status.SUPPORTED and "decompos" not in (verdict.reason + verdict.via):
        return None
    return Severity.WARNING


def _message(node: OpNode, target: Target, verdict: Verdict, severity: Severity) -> str:
    name = node.base_op.removeprefix("aten.")
    if name == "hardtanh":
        name = f"hardtanh({node.args.get('min_val', -1.0)}, {node.args.get('max_val', 1.0)})"
    why = f" ({verdict.reason})" if verdict.reason else ""
    if severity is Severity.ERROR:
        what = f"{target} cannot convert {name}{why}"
        if verdict.since:
            what += f"; it converts from {verdict.since}"
    elif verdict.blocks:
        what = f"{name} is not supported by the {target} delegate{why}: it runs on the CPU and splits the model"
    elif verdict.status is Status.SUPPORTED or "decompos" in verdict.reason:
        what = f"{name} converts to {target} only as several ops{why}"
    else:
        what = (f"{name} is not confirmed to convert to {target} (support table: {verdict.reason or 'no entry'}); "
                "many converters and accelerators lack it or run it slowly")
    return f"{what}. Use {_ACTIVATIONS[node.base_op]}"
