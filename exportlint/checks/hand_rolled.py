"""EXL303: a standard layer (layer norm, LSTM/GRU cell) rebuilt from primitive ops."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import OpGraph, OpNode

_STATS = ("aten.mean.dim", "aten.var.correction", "aten.var.dim", "aten.var_mean.correction")
_ROOTS = ("aten.sqrt", "aten.rsqrt")
_REACH = 5  # ops between the first statistic and the square root in `(x - mean) / sqrt(var + eps)`


def _hand_rolled():
    import torch

    class Cell(torch.nn.Module):
        def __init__(self, dim: int = 8):
            super().__init__()
            self.gates = torch.nn.Linear(2 * dim, 4 * dim)

        def forward(self, x, h, c):
            i, f, g, o = self.gates(torch.cat([x, h], -1)).chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # expect: EXL303
            return torch.sigmoid(o) * torch.tanh(c), c

    class Encoder(torch.nn.Module):
        def __init__(self, dim: int = 8):
            super().__init__()
            self.cell = Cell(dim)
            self.gain = torch.nn.Parameter(torch.ones(dim))

        def forward(self, xs):
            h = c = torch.zeros(xs.shape[0], xs.shape[2])
            for t in range(xs.shape[1]):
                h, c = self.cell(xs[:, t], h, c)
            mu = h.mean(-1, keepdim=True)  # expect: EXL303
            return (h - mu) / torch.sqrt(((h - mu) ** 2).mean(-1, keepdim=True) + 1e-5) * self.gain

    return Encoder(), (torch.randn(2, 3, 8),)


def _library():
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self, dim: int = 8):
            super().__init__()
            self.lstm = torch.nn.LSTM(dim, dim, batch_first=True)
            self.norm = torch.nn.LayerNorm(dim)

        def forward(self, xs):
            out, _ = self.lstm(xs)
            return self.norm(out[:, -1]) * torch.sigmoid(out[:, -1].mean(-1, keepdim=True))

    return Encoder(), (torch.randn(2, 3, 8),)


class HandRolledLayer(GraphRule):
    """
    ## What it does
    Recognises standard layers written out with primitive ops: a layer norm
    (`(x - x.mean(-1)) / sqrt(var + eps)` over the last dim) and an LSTM or GRU cell (sigmoid gates
    and tanh in a user module: three sigmoids per two tanhs for an LSTM, two per one for a GRU).

    ## Why is this bad?
    The converter sees a dozen small ops instead of one node it has a fused, well-tested kernel for
    (ONNX LayerNormalization / LSTM / GRU, TFLite's fused LSTM, Core ML's lstm and layer_norm).
    The unrolled version is slower, quantises worse (each intermediate gets its own range), and an
    RNN cell run in a Python loop is unrolled for the traced sequence length only.

    ## Example
    ```python
    mu = h.mean(-1, keepdim=True)
    h = (h - mu) / torch.sqrt(((h - mu) ** 2).mean(-1, keepdim=True) + 1e-5)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    ```

    ## Use instead
    ```python
    self.norm = nn.LayerNorm(dim)     # h = self.norm(h)
    self.rnn = nn.LSTM(dim, dim, batch_first=True)
    ```

    ## Fix safety
    No automatic fix: the library layer's weights are laid out differently (copy them over).
    """

    code = "EXL303"
    slug = "hand-rolled-layer"
    summary = "A layer norm or LSTM/GRU cell built from primitive ops instead of the library layer."
    severity = Severity.WARNING
    invalid = (Example(build=_hand_rolled),)
    valid = (Example(build=_library),)

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        yield from self._layer_norms(graph)
        yield from self._cells(graph)

    def _layer_norms(self, graph: OpGraph) -> Iterable[Finding]:
        first_stat: dict[str, OpNode] = {}  # square-root node -> earliest statistic leading to it
        for op in _STATS:
            for stat in graph.by_op.get(op, ()):
                if _user_code(stat) and _over_last_dim(stat):
                    for root in _roots_after(graph, stat):
                        if root.name not in first_stat or _before(stat, first_stat[root.name]):
                            first_stat[root.name] = stat
        for stat in {s.name: s for s in first_stat.values()}.values():
            yield self.finding(graph, "a layer norm written out by hand (mean, variance, sqrt, divide "
                               "over the last dim): converters see many small ops instead of one fused "
                               "LayerNormalization. Use nn.LayerNorm(dim) / F.layer_norm", node=stat)

    def _cells(self, graph: OpGraph) -> Iterable[Finding]:
        gates: dict[str, dict[str, list[OpNode]]] = defaultdict(lambda: defaultdict(list))
        for kind in ("aten.sigmoid", "aten.tanh"):
            for node in graph.by_op.get(kind + ".default", ()):
                if _user_code(node):
                    gates[node.module or ""][kind].append(node)
        for module, found in gates.items():
            s, t = len(found["aten.sigmoid"]), len(found["aten.tanh"])
            if s >= 3 and t >= 2 and 2 * s == 3 * t:
                layer, steps = "LSTM", s // 3
            elif s >= 2 and t >= 1 and s == 2 * t:
                layer, steps = "GRU", t
            else:
                continue
            first = min(found["aten.sigmoid"], key=_order)
            where = f"module {module!r}" if module else "forward"
            yield self.finding(
                graph, f"{where} computes an {layer} cell from sigmoid/tanh gates ({steps} step(s) "
                f"unrolled): converters see {s + t} activations and their matmuls instead of one "
                f"{layer} node, and the loop is frozen to the traced length. Use nn.{layer} "
                f"(or nn.{layer}Cell)", node=first)


def _user_code(node: OpNode) -> bool:
    return not (node.module_type or "").startswith("torch.")


def _over_last_dim(node: OpNode) -> bool:
    dims = node.args.get("dim")
    rank = len(node.inputs[0].shape or ()) if node.inputs else 0
    return isinstance(dims, list) and len(dims) == 1 and dims[0] in (-1, rank - 1)


def _roots_after(graph: OpGraph, start: OpNode) -> list[OpNode]:
    seen, frontier, roots = {start.name}, [start], []
    for _ in range(_REACH):
        nxt = []
        for node in frontier:
            for succ in graph.successors(node):
                if succ.name not in seen:
                    seen.add(succ.name)
                    nxt.append(succ)
                    if succ.base_op in _ROOTS:
                        roots.append(succ)
        frontier = nxt
    return roots


def _order(node: OpNode):
    return (node.location is None, node.location)


def _before(a: OpNode, b: OpNode) -> bool:
    return _order(a) < _order(b)
