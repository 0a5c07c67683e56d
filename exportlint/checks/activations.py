"""EXL302: activations that some targets lack, run on the CPU, or split into many ops."""

from __future__ import annotations

from typing import Iterable

from exportlint.checks.exotic_activations import BY_ATEN, HARDTANH_DEFAULTS, Activation, unusual_hardtanh
from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import OpGraph, OpNode
from exportlint.tables import Status, Verdict, support
from exportlint.targets import Target


def _exotic():
    import torch
    import torch.nn.functional as F

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gate = torch.nn.Hardsigmoid()

        def forward(self, x):
            x = F.mish(x)  # expect: EXL302
            return x * self.gate(x)  # expect: EXL302

    return Block(), (torch.randn(1, 8),)


def _common():
    import torch
    import torch.nn.functional as F

    class Block(torch.nn.Module):
        def forward(self, x):
            x = F.elu(x)
            return F.relu6(x) * torch.clamp(x + 3, 0, 6) / 6 * F.hardtanh(x) * F.hardtanh(x, 0.0, 6.0)

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
    gate = torch.clamp(x + 3, 0, 6) / 6     # exactly hard-sigmoid, from common ops
    x = torch.clamp(x, 0.0, 4.0)
    ```

    ## Fix safety
    Where the activation is a functional call on the flagged line, the finding carries EXL501's
    source fix (`exportlint fix FILE`; the exact clamp form is safe, the sigmoid swap unsafe).
    `exportlint fix SPEC --output` rewrites the graph (hardsigmoid-to-clamp, hardswish-decompose).
    Sigmoid/SiLU replacements change the numbers and need a check of the trained model.

    ## Known problems
    The list of activations and their replacements is shared with EXL501
    (`exportlint/checks/exotic_activations.py`). Softsign is not flagged: PyTorch traces it into
    abs/add/div.
    """

    code = "EXL302"
    slug = "exotic-activation-op"
    source_fix = "EXL501"
    summary = "Hard-sigmoid, hard-swish, Mish, SELU, CELU or unusual Hardtanh: unsupported or slow per target."
    severity = Severity.WARNING
    invalid = (Example(build=_exotic, targets=("coreml:iOS16", "tflite")),)
    valid = (Example(build=_common, targets=("coreml:iOS16", "onnx:18")),)

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        for op, nodes in graph.by_op.items():
            activation = BY_ATEN.get(nodes[0].base_op)
            if activation is None:
                continue
            if activation.function == "hardtanh":
                nodes = [n for n in nodes if unusual_hardtanh(*_bounds(n))]
            if not nodes:
                continue
            for target in ctx.targets:
                verdict = support(op, target, graph.dialect)
                severity = _severity(verdict)
                if severity is None:
                    continue
                for node in _one_per_line(nodes):  # a block reused N times: one finding per line
                    yield self.finding(graph, _message(activation, node, target, verdict),
                                       node=node, target=target, severity=severity)


def _one_per_line(nodes: list[OpNode]) -> list[OpNode]:
    return list({(n.location.path, n.location.line) if n.location else n.name: n for n in reversed(nodes)}.values())


def _bounds(node: OpNode) -> tuple[float, float]:
    low, high = HARDTANH_DEFAULTS
    return float(node.args.get("min_val", low)), float(node.args.get("max_val", high))


def _pieces(verdict: Verdict) -> tuple[str, ...]:
    """The target ops a probe saw the activation become, without dtype casts."""
    return tuple(op for op in verdict.produces if op.rsplit("::", 1)[-1].lower() != "cast")


def _severity(verdict: Verdict) -> Severity | None:
    """A warning where the activation converts but as several ops, or is not confirmed to convert;
    where it does not convert at all, EXL101 reports it (with the version that adds it)."""
    if verdict.blocks:
        return None
    if verdict.status is Status.SUPPORTED and len(_pieces(verdict)) <= 1:
        return None
    return Severity.WARNING


def _message(activation: Activation, node: OpNode, target: Target, verdict: Verdict) -> str:
    name = activation.function
    if name == "hardtanh":
        name = "hardtanh({}, {})".format(*_bounds(node))
    pieces = _pieces(verdict)
    if verdict.status is Status.SUPPORTED:
        retrain = (f"; if the model can be retrained, {activation.approximate} is a single op on most targets"
                   if activation.approximate and activation.function != "hardtanh" else "")
        return (f"{name} converts to {target} as {len(pieces)} ops ({', '.join(pieces)}) instead of one: "
                f"slower, and more places where an accelerator may fall back to the CPU{retrain}")
    return (f"{name} is not confirmed to convert to {target} ({verdict.reason or 'not in its support table'}); "
            f"many converters and accelerators lack it or run it slowly. Use {activation.advice()}")
