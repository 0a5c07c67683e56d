"""EXL001: torch.export cannot capture the model."""

from __future__ import annotations

from typing import Iterable

from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import OpGraph
from exportlint.targets import EXPORT_GRAPH, TRACE_GRAPH


def _branch_on_value():
    import torch

    class Gate(torch.nn.Module):
        def forward(self, x):
            if x.sum() > 0:  # expect: EXL001
                return torch.relu(x)
            return -x

    return Gate(), (torch.randn(4, 8),)


def _branch_with_where():
    import torch

    class Gate(torch.nn.Module):
        def forward(self, x):
            return torch.where(x.sum() > 0, torch.relu(x), -x)

    return Gate(), (torch.randn(4, 8),)


class ExportCaptureFailed(GraphRule):
    """
    ## What it does
    Reports a model that `torch.export` cannot capture, at the user line where capture stopped, and
    says which fallback (`torch.fx.symbolic_trace`, `torch.jit.trace`) produced the graph that the
    other rules then checked.

    ## Why is this bad?
    Every current PyTorch converter starts from `torch.export`: the ONNX exporter, litert-torch
    (TFLite) and coremltools' recommended path. A model it cannot capture does not convert. The
    fallback graphs record only the path the example inputs took: a Python `if` on a tensor value is
    frozen into one branch, so the exported model is silently wrong for other inputs.

    ## Example
    ```python
    def forward(self, x):
        if x.sum() > 0:
            return torch.relu(x)
        return -x
    ```

    ## Use instead
    ```python
    def forward(self, x):
        return torch.where(x.sum() > 0, torch.relu(x), -x)
    ```
    or `torch.cond` for branches that differ in structure.

    ## Fix safety
    No automatic fix: the rewrite depends on what the branch means.
    """

    code = "EXL001"
    slug = "export-capture-failed"
    summary = "torch.export cannot capture the model; fallback graphs freeze data-dependent paths."
    severity = Severity.ERROR
    invalid = (Example(build=_branch_on_value),)
    valid = (Example(build=_branch_with_where),)

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        info = graph.capture
        if info.trace_error is not None:
            yield self.finding(graph, f"torch.jit.trace cannot capture this model ({info.trace_error}): the "
                               "TorchScript conversion paths start from it",
                               location=info.trace_failure_location, paths=_paths(ctx, TRACE_GRAPH))
        export_failures = [(m, why) for m, why in info.attempts if m.startswith("torch.export")]
        if info.method.startswith("torch.export") or not export_failures:
            return
        reason = export_failures[0][1]
        if info.ok:
            tail = (f"checked the graph from {info.method} instead, which keeps only the path the "
                    "example inputs took")
        else:
            tail = "no fallback could capture it either: " + "; ".join(
                f"{m}: {why}" for m, why in info.attempts if not m.startswith("torch.export"))
        yield self.finding(graph, f"torch.export cannot capture this model ({reason}); {tail}",
                           location=info.failure_location,
                           paths=_paths(ctx, EXPORT_GRAPH) if info.traced is not None else ())


def _paths(ctx: Context, graph_kind: str) -> tuple[str, ...]:
    """The requested targets' PyTorch conversion paths that start from `graph_kind`."""
    return tuple(sorted({p.name for t in ctx.targets for p in t.paths("aten") if p.graph == graph_kind}))
