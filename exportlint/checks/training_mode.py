"""EXL402: training-only behaviour in the exported graph (dropout, batch-norm statistics, input writes)."""

from __future__ import annotations

from typing import Iterable

from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import NodeKind, OpGraph, OpNode

_DROPOUTS = ("aten.dropout", "aten.native_dropout", "aten.feature_dropout", "aten.alpha_dropout",
             "aten.feature_alpha_dropout", "aten.bernoulli")
_BATCH_NORMS = ("aten.batch_norm", "aten._native_batch_norm_legit_functional", "aten._native_batch_norm_legit",
                "aten.native_batch_norm", "aten.instance_norm")


def _training_paths():
    import torch
    import torch.nn.functional as F

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = torch.nn.BatchNorm1d(8)

        def forward(self, x):
            x.mul_(2.0)  # expect: EXL402
            y = F.dropout(x, 0.5, training=True)  # expect: EXL402
            return F.batch_norm(y, self.bn.running_mean, self.bn.running_var, training=True)  # expect: EXL402

    return Net(), (torch.randn(4, 8),)


def _train_flag():
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.drop = torch.nn.Linear(8, 8), torch.nn.Dropout(0.1)

        def forward(self, x):
            return self.drop(self.fc(x))  # expect: EXL402

    return Net(), (torch.randn(4, 8),)


def _eval_paths():
    import torch
    import torch.nn.functional as F

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = torch.nn.BatchNorm1d(8)
            self.norm = torch.nn.InstanceNorm1d(8, affine=True)  # per-sample statistics: the layer itself

        def forward(self, x):
            x = x * 2.0
            return self.norm(self.bn(F.dropout(x, 0.5, training=self.training)).unsqueeze(-1).expand(-1, -1, 3))

    return Net(), (torch.randn(4, 8),)


class TrainingModeBehaviour(GraphRule):
    """
    ## What it does
    Finds training-only behaviour in the captured graph: dropout that still drops, batch norm that
    normalises by the batch's own statistics (a model captured in training mode, `--train`, or
    `training=True` written in `forward`), and in-place writes to a model input (`x.mul_(2)`).

    ## Why is this bad?
    The exported model then gives random outputs (dropout), depends on what else is in the batch
    (batch norm with batch statistics; a batch of one divides by zero variance), or writes into the
    caller's buffer, which converters either reject or turn into a copy the runtime does not expect.

    ## Example
    ```python
    y = F.dropout(x, 0.5, training=True)
    x.mul_(2.0)
    ```

    ## Use instead
    ```python
    y = F.dropout(x, 0.5, training=self.training)   # and model.eval() before export
    x = x * 2.0
    ```

    ## Fix safety
    No automatic fix: `training=self.training` is the usual intent, but only you know it.
    """

    code = "EXL402"
    slug = "training-mode-in-export"
    summary = "Dropout, batch-norm batch statistics or in-place input writes in the exported graph."
    severity = Severity.ERROR
    invalid = (Example(build=_training_paths), Example(build=_train_flag, options={"train": True}))
    valid = (Example(build=_eval_paths),)

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        why = ("the model was captured in training mode (--train); export it after model.eval()"
               if graph.capture.training else "`training=True` is written in forward; use "
               "training=self.training and call model.eval() before export")
        for op, nodes in graph.by_op.items():
            base = nodes[0].base_op
            for node in nodes:
                if base in _DROPOUTS and node.args.get("train", True):
                    yield self.finding(graph, f"dropout is active in the exported graph: outputs are "
                                       f"random at inference; {why}", node=node)
                elif base in _BATCH_NORMS and _batch_statistics(base, node.args):
                    yield self.finding(graph, "batch norm uses the batch's own statistics in the "
                                       "exported graph: outputs depend on the rest of the batch and "
                                       f"the running statistics are updated; {why}", node=node)
                elif _writes_input(graph, node):
                    yield self.finding(graph, f"{base.removeprefix('aten.')} writes in place into a "
                                       "model input: converters reject the mutation or copy it; write "
                                       f"`x = x.{base.removeprefix('aten.').rstrip('_')}(...)` instead",
                                       node=node)


def _batch_statistics(base: str, args: dict) -> bool:
    """Whether a normalisation node uses (and updates) statistics of the batch rather than stored ones. An
    instance norm's per-sample statistics are the layer itself: only one that updates running statistics
    (given as tensors, so absent from the constant arguments) is in training mode."""
    if base == "aten.instance_norm":
        return args.get("use_input_stats", True) and args.get("running_mean", "a tensor") is not None
    return args.get("training", True) or base.endswith("functional")


def _writes_input(graph: OpGraph, node: OpNode) -> bool:
    name = node.base_op.removeprefix("aten.")
    if not name.endswith("_") or name.endswith("__"):
        return False
    for src, _, index in graph.nx.in_edges(node.name, keys=True):
        if index == 0 and graph.node(src).kind is NodeKind.INPUT:
            return True
    return False
