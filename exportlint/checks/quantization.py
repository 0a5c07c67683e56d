"""EXL610-EXL612: what int8 quantization does to each op, for targets with a precision (`executorch:xnnpack+int8`,
`onnx:17+qdq`, `tflite+int8`, `openvino:cpu+int8`): quantized, stays float (with why), or fails; and a summary of
what runs in int8.

The per-op outcome (`predict`) walks the graph in order with the precision's table (`quant_support`): an op
the probes saw quantized is quantized, unless it only shares its input's quantization (`shares_input`: relu,
view, max_pool...) and its input is float here; an op folded into the op before it (`fuses_after`: batch_norm
into conv) is quantized when that op is; an op no annotator takes whose result has a scale of its own
(`between_quantized`: TFLite's add, tanh) is quantized only between quantized ops: every input quantized, and every
reader an op that quantizes its own inputs (conv, linear); one that keeps its input's scale (`same_scale`: TFLite's
transpose) where either is. A weight-only precision (`coreml:iOS17+w8`) has its own walk (`_weight_outcomes`): which
ops' weights are stored in int8.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Iterable

from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import NodeKind, OpGraph, OpNode
from exportlint.tables import BOOKKEEPING_OPS, Status, Verdict, load_table, op_stem, quant_support, support
from exportlint.targets import Target

QUANTIZED, FLOAT, FAILS, UNDECIDED = "quantized", "float", "fails", "undecided"
_INT8_TARGETS = ("executorch:xnnpack+int8", "onnx:17+qdq", "tflite+int8", "openvino:cpu+int8")


@dataclass(frozen=True)
class Outcome:
    node: OpNode
    status: str  # QUANTIZED, FLOAT, FAILS, UNDECIDED
    reason: str = ""
    output_quantized: bool = False  # FLOAT in part, but what it hands on is quantized


def quantized_targets(ctx: Context) -> list[Target]:
    return [t for t in ctx.targets if t.precision]


def predict(graph: OpGraph, target: Target) -> list[Outcome]:
    """The outcome of every compute node of `graph` when quantized for `target`, in graph order."""
    import networkx

    if target.unit.precisions[target.precision].weights_only:
        return _weight_outcomes(graph, target)
    out: list[Outcome] = []
    quantized: dict[str, bool] = {}  # node name -> its output is quantized (pass-through nodes inherit it)
    ignored = target.unit.quant_ignored(graph, target.precision)
    for name in networkx.topological_sort(graph.nx):
        node = graph.node(name)
        preds = [p for p in graph.predecessors(node) if p.kind is NodeKind.OP]
        fed = any(quantized.get(p.name) for p in preds)
        if node.kind is not NodeKind.OP or node.op in BOOKKEEPING_OPS:
            quantized[name] = fed
            continue
        if name in ignored:
            out.append(Outcome(node, FLOAT, ignored[name]))
            quantized[name] = False
            continue
        if not _float_out(node):  # integer / bool math is not quantized, but quantizing may still break it
            verdict = quant_support(node.op, target, graph.dialect, node)
            if verdict.status is Status.UNSUPPORTED and _reaches(graph, node, verdict.fails_if_feeds):
                out.append(Outcome(node, FAILS, _failure(verdict)))
            quantized[name] = False
            continue
        outcome = _outcome(graph, node, preds, fed, quantized, target)
        quantized[name] = outcome.status == QUANTIZED or outcome.output_quantized
        out.append(outcome)
    return out


def _weight_outcomes(graph: OpGraph, target: Target) -> list[Outcome]:
    """A weight-only scheme (Core ML's w8): each node that reads a float constant of rank >= `min_rank` (with a model
    input: a constant subgraph folds into its reader) stores it in int8 when it has more elements than
    `weight_threshold` (coremltools' rule, in the table's registry), where the table's probes saw the rule hold for
    the op; what the ops compute stays float."""
    precision = target.unit.precisions[target.precision]
    rule = (load_table(*precision.table.split("-", 1)) or {}).get("provenance", {}).get("registry", {})
    threshold, min_rank = rule.get("weight_threshold"), rule.get("min_rank", 2)
    out = []
    for node in graph.nodes():
        weights = [prod(t.shape) for t, const in zip(node.inputs, node.const_inputs) if const and t.shape
                   and len(t.shape) >= min_rank and all(isinstance(d, int) for d in t.shape)
                   and t.dtype and t.dtype.startswith(("float", "bfloat"))]
        if not weights or all(node.const_inputs):
            continue
        verdict = quant_support(node.op, target, graph.dialect, node)
        if threshold is None or verdict.status not in (Status.SUPPORTED, Status.FALLBACK):
            out.append(Outcome(node, UNDECIDED, verdict.reason or f"no weight probe of {precision.table} reads a "
                                                                  f"weight with {op_stem(node.op)}"))
        elif verdict.status is Status.FALLBACK:
            out.append(Outcome(node, FLOAT, verdict.reason))
        elif max(weights) > threshold:
            out.append(Outcome(node, QUANTIZED))
        else:
            out.append(Outcome(node, FLOAT, f"its weight ({max(weights):,} elements) is not above coremltools' "
                                            f"weight_threshold ({threshold:,}): it stays float16 (a lower "
                                            "OpLinearQuantizerConfig(weight_threshold=...) compresses it)"))
    return out


def _failure(verdict: Verdict) -> str:
    return (f"its one-op model, quantized and lowered the same way, failed: {verdict.reason}"
            if verdict.evidence == "probe" else verdict.reason)


def _reaches(graph: OpGraph, node: OpNode, ops: tuple[str, ...]) -> bool:
    """Whether `node`'s result flows into one of `ops` (True when `ops` is empty: no condition)."""
    import networkx

    return not ops or any(graph.node(n).op in ops for n in networkx.descendants(graph.nx, node.name))


def _float_out(node: OpNode) -> bool:
    return any(t.dtype and t.dtype.startswith(("float", "bfloat")) for t in node.outputs)


def _read_quantized(graph: OpGraph, node: OpNode, target: Target) -> bool:
    """Whether every reader of `node` takes it quantized: an op the quantizer annotates by itself (no condition on
    its neighbours in the table), or a `same_scale` op whose readers all do (the converter carries the quantize
    through it); pass-through nodes and ops fused into the node (`no_own_op`: a relu after an add) are looked
    through."""
    def quantizes(reader: OpNode) -> bool:
        if reader.kind is not NodeKind.OP:
            return False
        if reader.op in BOOKKEEPING_OPS:
            return _read_quantized(graph, reader, target)
        v = quant_support(reader.op, target, graph.dialect, reader)
        if v.status is Status.SUPPORTED and v.no_own_op:
            return _read_quantized(graph, reader, target)
        if v.status is not Status.SUPPORTED or v.shares_input or v.fuses_after or v.between_quantized:
            return False
        return not v.same_scale or _read_quantized(graph, reader, target)

    return all(quantizes(s) for s in graph.successors(node))


def _outcome(graph: OpGraph, node: OpNode, preds: list[OpNode], fed: bool, quantized: dict[str, bool],
             target: Target) -> Outcome:
    dialect = graph.dialect
    verdict = quant_support(node.op, target, dialect, node)
    if verdict.status is Status.UNSUPPORTED and verdict.shares_input and not fed:
        return Outcome(node, FLOAT, f"its input here is float, so nothing quantizes it (quantized, it fails: "
                                    f"{verdict.reason.removeprefix('when its input is quantized: ')})")
    if verdict.status is Status.UNSUPPORTED:
        return Outcome(node, FAILS, _failure(verdict))
    if verdict.status not in (Status.SUPPORTED, Status.FALLBACK) and not (verdict.shares_input or verdict.fuses_after):
        return Outcome(node, UNDECIDED, verdict.reason or "in no quantization table")
    if any(p.op in verdict.fuses_after and quantized.get(p.name) for p in preds):
        return Outcome(node, QUANTIZED)  # folded into the op before it
    if (verdict.between_quantized or verdict.same_scale) and verdict.status is Status.SUPPORTED:
        floats = sorted({op_stem(p.op) if p.kind is NodeKind.OP else "a model input"
                         for p in graph.predecessors(node) if not quantized.get(p.name)})
        read = _read_quantized(graph, node, target)
        if (not floats and read) or (verdict.same_scale and (fed or read)):
            return Outcome(node, QUANTIZED)
        need = ("between quantized ops (every input quantized, every reader one that quantizes it)"
                if verdict.between_quantized else "next to quantized ops (its input, or every reader, quantized)")
        why = f"its input from {', '.join(floats)} is float" if floats else "a reader takes it in float"
        return Outcome(node, FLOAT, f"no annotator takes it: the converter quantizes it only {need}, and here {why}"
                                    f"{_patterns(node, target)}")
    if verdict.shares_input and verdict.status is not Status.FALLBACK:  # a probe saw it float even when fed
        if fed:
            return Outcome(node, QUANTIZED)
        source = ", ".join(sorted({op_stem(p.op) for p in preds})) or "a model input"
        return Outcome(node, FLOAT, f"it is quantized only after a quantized op (it shares its input's scale), "
                                    f"and its input here ({source}) is float{_patterns(node, target)}")
    if verdict.status is not Status.SUPPORTED:  # stays float, or named by the quantizer's source only
        split = (f"; it is folded only into {', '.join(sorted({op_stem(o) for o in verdict.fuses_after}))} directly "
                 f"before it{_patterns(node, target)}" if verdict.fuses_after else "")
        return Outcome(node, FLOAT, verdict.reason.removeprefix("stays float: ") + split,
                       output_quantized=verdict.output_quantized and fed)
    return Outcome(node, QUANTIZED)


def _patterns(node: OpNode, target: Target) -> str:
    """The quantizer's fusion patterns that end with this op (`conv_bn_relu`, `linear_relu`), from its table."""
    table = load_table(*target.unit.precisions[target.precision].table.split("-", 1)) or {}
    short = op_stem(node.op).removeprefix("_native_").replace("batch_norm", "bn").split("_legit")[0]
    names = [p for p in table.get("provenance", {}).get("registry", {}).get("patterns", []) if p.endswith(f"_{short}")]
    return f" (the quantizer's patterns: {', '.join(n.replace('_', '-') for n in names)})" if names else ""


# --- examples ---------------------------------------------------------------------------------


def _conv_bn_relu_linear():
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8)
            self.fc = torch.nn.Linear(8 * 6 * 6, 10)

        def forward(self, x):
            y = torch.relu(self.bn(self.conv(x)))
            return self.fc(y.flatten(1))

    return Net().eval(), (torch.randn(1, 3, 8, 8),)


def _sigmoid_gate():
    import torch

    class Gate(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3)

        def forward(self, x):
            y = self.conv(x)
            return y * torch.sigmoid(y)  # expect: EXL610

    return Gate().eval(), (torch.randn(1, 3, 8, 8),)


def _gelu_mlp():
    import torch

    class Mlp(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = torch.nn.Linear(16, 32), torch.nn.Linear(32, 16)

        def forward(self, x):
            return self.fc2(torch.nn.functional.gelu(self.fc1(x)))  # expect: EXL610, EXL612

    return Mlp().eval(), (torch.randn(2, 16),)


def _softmax_between_linears():
    import torch

    class Scores(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.out = torch.nn.Linear(16, 16), torch.nn.Linear(16, 16)

        def forward(self, x):
            return self.out(torch.softmax(self.q(x), dim=-1))  # expect: EXL610, EXL611

    return Scores().eval(), (torch.randn(2, 16),)


def _constant_token_types():
    import torch

    class Embed(torch.nn.Module):  # HF BERT's default token_type_ids: a gather of two buffers
        def __init__(self):
            super().__init__()
            self.types, self.fc = torch.nn.Embedding(2, 16), torch.nn.Linear(16, 16)
            self.register_buffer("zeros", torch.zeros(1, 8, dtype=torch.long), persistent=False)
            self.register_buffer("positions", torch.arange(8)[None], persistent=False)

        def forward(self, x):
            types = torch.gather(self.zeros, 1, self.positions)  # expect: EXL611
            return self.fc(x + self.types(types))

    return Embed().eval(), (torch.randn(1, 8, 16),)


def _squeeze_excite():
    import torch

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.out = torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.Conv2d(32, 32, 3)
            self.down, self.up = torch.nn.Conv2d(32, 8, 1), torch.nn.Conv2d(8, 32, 1)

        def forward(self, x):
            y = torch.relu(self.conv(x))
            gate = torch.sigmoid(self.up(torch.relu(self.down(y.mean((2, 3), keepdim=True)))))  # expect: EXL610
            return self.out(y * gate)

    return Block().eval(), (torch.randn(1, 3, 16, 16),)


def _small_stem():
    import torch

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.fc = torch.nn.Conv2d(3, 8, 3), torch.nn.Linear(8 * 6 * 6, 64)  # 216 and 18,432 weights

        def forward(self, x):
            y = torch.relu(self.stem(x))  # expect: EXL610, EXL612
            return self.fc(y.flatten(1))

    return Head().eval(), (torch.randn(1, 3, 8, 8),)


def _wide_mlp():
    import torch

    class Mlp(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = torch.nn.Linear(64, 128), torch.nn.Linear(128, 64)  # 8,192 weights each

        def forward(self, x):
            return self.fc2(torch.nn.functional.gelu(self.fc1(x)))

    return Mlp().eval(), (torch.randn(2, 64),)


def _padded_conv():
    import torch

    class Padded(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3)

        def forward(self, x):
            return torch.nn.functional.pad(self.conv(x), (1, 1, 1, 1))  # expect: EXL611

    return Padded().eval(), (torch.randn(1, 3, 8, 8),)


class StaysFloat(GraphRule):
    """
    ## What it does
    For each target with a quantized precision (`--target executorch:xnnpack+int8`, `--target onnx:17+qdq`,
    `--target tflite+int8`, `--target openvino:cpu+int8`), reports every op that will not run in int8, with why:
    the quantizer has no annotator or pattern for it (no quantize/dequantize around it), the delegate has no int8
    kernel for it (it is dequantized, run in float and requantized), it is left out of the delegate, the quantizer ignores a
    pattern it is part of (NNCF's squeeze-and-excitation pattern), or a fusion pattern
    is split (a `relu` or `batch_norm` is quantized only fused after a conv/linear: the message names the
    pattern the backend expects, such as conv-bn-relu). The verdicts come from the precision's table, proven by
    quantizing one-op models with the real quantizer and backend (`rules/tables/aten-executorch-int8.json`,
    `rules/tables/aten-onnx-qdq.json`, `rules/tables/aten-tflite-int8.json`, `rules/tables/aten-openvino-int8.json`).
    On a weight-only target (`--target coreml:iOS17+w8`: `linear_quantize_weights`), it reports each op whose
    weight stays float16: coremltools compresses only constants of rank 2 or more with more elements than its
    `weight_threshold` (2,048 by default), per `rules/tables/aten-coreml-w8.json`, proven by one-weight models at
    and above the threshold.

    ## Why is this bad?
    You quantize to make the model smaller and faster on the phone; an op that stays float runs at float
    speed, and each float island adds a dequantize and a quantize around it. Nothing tells you: the
    quantizer and the converter succeed silently.

    ## Example
    ```python
    y = self.conv(x)
    return y * torch.sigmoid(y)   # XNNPACK: sigmoid has no int8 annotator, stays float
    ```
    checked with `--target executorch:xnnpack+int8` (on `tflite+int8` it is quantized: an int8 LOGISTIC with
    the fixed scale 1/256).

    ## Use instead
    An activation the backend quantizes (`relu`, `hardtanh`/`relu6` fuse into conv and linear on
    XNNPACK), ops in the order of the backend's patterns (conv, then batch_norm, then relu), or accept the
    float island where accuracy needs it.

    ## Fix safety
    No automatic fix: another activation changes the model.
    """

    code = "EXL610"
    slug = "stays-float"
    summary = "An op that stays in float when the model is quantized for the target."
    severity = Severity.WARNING
    invalid = (Example(build=_sigmoid_gate, targets=("executorch:xnnpack+int8",)),
               Example(build=_gelu_mlp, targets=("executorch:xnnpack+int8", "onnx:17+qdq")),
               Example(build=_softmax_between_linears, targets=("openvino:cpu+int8",)),
               Example(build=_small_stem, targets=("coreml:iOS17+w8",)),
               Example(build=_squeeze_excite, targets=("openvino:cpu+int8",)))
    valid = (Example(build=_conv_bn_relu_linear, targets=_INT8_TARGETS),
             Example(build=_wide_mlp, targets=("coreml:iOS17+w8", "coreml:iOS16+w8")),
             Example(build=_sigmoid_gate, targets=("onnx:17+qdq", "tflite+int8", "executorch:xnnpack",
                                                   "openvino:cpu+int8")))

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        for target in quantized_targets(ctx):
            for outcome in predict(graph, target):
                if outcome.status == FLOAT:
                    yield self.finding(graph, f"{op_stem(outcome.node.op)} stays float on {target}: {outcome.reason}",
                                       node=outcome.node, target=target)


class QuantizationFails(GraphRule):
    """
    ## What it does
    For each target with a quantized precision, reports the ops whose one-op probe failed when quantized
    for it: the quantizer's `convert_pt2e` / `quantize_static` raised, lowering the quantized graph to the
    delegate failed, or the quantized model did not run in the runtime (ExecuTorch, ONNX Runtime CPU, the LiteRT
    interpreter). The one-op models read a quantized producer's output (TFLite's also feed a quantized
    consumer, as inside a model).
    An op the float target already rejects is left to EXL101.

    ## Why is this bad?
    The float model converts, so the failure shows up only after quantization, often at delegate
    initialisation or the first run on the device, with an error that names a kernel, not your line.

    ## Example
    ```python
    return F.pad(self.conv(x), (1, 1, 1, 1))   # float: delegated; int8: the .pte fails to load
    ```
    checked with `--target executorch:xnnpack+int8`; or a softmax between two quantized linears on
    `--target tflite+int8`: the converter quantizes it with the linear's output scale, and the LiteRT interpreter
    refuses it ("output->params.scale not near 1.f / 256"); or, on `--target openvino:cpu+int8`, an embedding of
    indices gathered from buffers (HF BERT's default `token_type_ids`), where `nncf.quantize` raises `KeyError`.

    ## Use instead
    Keep the op out of quantization (the quantizer's per-module or per-op-type config, `nodes_to_exclude` in
    `quantize_static`), or replace it by ops the backend quantizes.

    ## Fix safety
    No automatic fix.
    """

    code = "EXL611"
    slug = "quantization-fails"
    summary = "An op that makes quantization, lowering or the quantized model's run fail on the target."
    severity = Severity.ERROR
    invalid = (Example(build=_padded_conv, targets=("executorch:xnnpack+int8",)),
               Example(build=_softmax_between_linears, targets=("tflite+int8",)),
               Example(build=_constant_token_types, targets=("openvino:cpu+int8",)))
    valid = (Example(build=_conv_bn_relu_linear, targets=(*_INT8_TARGETS, "coreml:iOS17+w8")),
             Example(build=_padded_conv, targets=("executorch:xnnpack",)),
             Example(build=_softmax_between_linears, targets=("tflite",)),
             Example(build=_constant_token_types, targets=("openvino:cpu", "executorch:xnnpack+int8")))

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        for target in quantized_targets(ctx):
            for outcome in predict(graph, target):
                # an op the float model cannot take is EXL101's: quantizing is not what breaks it
                if outcome.status == FAILS and not support(outcome.node.op, target.base, graph.dialect).blocks:
                    yield self.finding(graph, f"{op_stem(outcome.node.op)} fails when the model is quantized for "
                                       f"{target} ({outcome.reason})", node=outcome.node, target=target)


# --- the summary --------------------------------------------------------------------------------

_CONV = ("aten.conv1d", "aten.conv2d", "aten.conv3d", "aten.convolution", "aten.conv_transpose1d",
         "aten.conv_transpose2d", "aten.conv_transpose3d")
_MATMUL = ("aten.linear", "aten.matmul", "aten.mm", "aten.bmm", "aten.addmm", "aten.baddbmm")


def macs(node: OpNode) -> int:
    """Multiply-accumulates of a conv, linear or matmul node, from the shapes in the graph (0 for others,
    or when a shape is symbolic)."""
    shapes = [t.shape for t in node.inputs]
    out = node.outputs[0].shape if node.outputs else None
    if not out or not all(isinstance(d, int) for d in out):
        return 0
    if node.base_op in _CONV and len(shapes) > 1 and shapes[1] and all(isinstance(d, int) for d in shapes[1]):
        # conv: out elements x (in channels / groups) x kernel; transposed (weight (in, out / groups, k...)):
        # in elements x (out channels / groups) x kernel
        many = shapes[0] if "transpose" in node.op else out
        return prod(many) * prod(shapes[1][1:]) if many and all(isinstance(d, int) for d in many) else 0
    if node.base_op in _MATMUL:
        # the reduced dim: linear's weight is (out, in); addmm/baddbmm(bias, a, b); mm/bmm/matmul(a, b)
        operand = shapes[1] if node.base_op in ("aten.linear", "aten.addmm", "aten.baddbmm") else shapes[0]
        reduced = operand[-1] if operand else None
        return prod(out) * reduced if isinstance(reduced, int) else 0
    return 0


def params(node: OpNode) -> tuple[int, int]:
    """(parameter elements the node reads, those stored as int8 when it is quantized: every constant
    input but a conv/linear bias, which stays 32-bit)."""
    total = weights = 0
    for i, (tensor, const) in enumerate(zip(node.inputs, node.const_inputs)):
        if const and tensor.shape and all(isinstance(d, int) for d in tensor.shape):
            n = prod(tensor.shape)
            total += n
            if not (i == 2 and (node.base_op in _CONV or node.base_op == "aten.linear")):
                weights += n
    return total, weights


def summarize(outcomes: list[Outcome]) -> dict[str, object]:
    """The numbers of the summary: op counts, MACs and parameters in int8, weight sizes, the ops kept in float."""
    total_macs = int8_macs = total_params = int8_params = 0
    kept: dict[str, list[int]] = {}  # op -> [nodes, MACs]
    for o in outcomes:
        m, (p, w) = macs(o.node), params(o.node)
        total_macs, total_params = total_macs + m, total_params + p
        if o.status == QUANTIZED:
            int8_macs, int8_params = int8_macs + m, int8_params + w
        elif o.status != UNDECIDED:
            k = kept.setdefault(op_stem(o.node.op), [0, 0])
            k[0], k[1] = k[0] + 1, k[1] + m
    worst = sorted(kept.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
    return {"ops": len(outcomes), "quantized": sum(o.status == QUANTIZED for o in outcomes),
            "undecided": sum(o.status == UNDECIDED for o in outcomes),
            "macs": total_macs, "macs_int8": int8_macs, "params": total_params, "params_int8": int8_params,
            "bytes_fp32": 4 * total_params, "bytes_fp16": 2 * total_params,
            "bytes_int8": int8_params + 4 * (total_params - int8_params),
            "kept_float": tuple(f"{op} x{n}" for op, (n, _) in worst[:5])}


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "n/a"


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


class QuantizationSummary(GraphRule):
    """
    ## What it does
    For each target with a quantized precision, one info line: how many ops will run in int8, the share
    of the multiply-accumulates (conv, linear and matmul MACs, from the shapes in the graph) and of the
    parameters that will run in int8, the weights' size at fp32, fp16 and int8, and the few ops that keep
    the model from being fully quantized. The JSON report carries the numbers (`data`). It is placed at the
    first op that stays float, or the first op when all are quantized.

    ## Why is this bad?
    It is not: it says what quantizing will buy before you spend the calibration and conversion on it. A
    model whose MACs are mostly in float will not get the int8 speed-up.

    ## Example
    A linear-gelu-linear MLP on `--target executorch:xnnpack+int8`: both linears are quantized, gelu stays
    float (XNNPACK has no int8 gelu).

    ## Use instead
    Nothing to change; act on the EXL610 lines of the ops it names.

    ## Fix safety
    No fix: information only.
    """

    code = "EXL612"
    slug = "quantization-summary"
    summary = "What share of the model runs in int8 on a quantized target, and what keeps the rest in float."
    severity = Severity.INFO
    invalid = (Example(build=_gelu_mlp, targets=("executorch:xnnpack+int8",)),
               Example(build=_small_stem, targets=("coreml:iOS18+w8",)))
    valid = (Example(build=_gelu_mlp, targets=("executorch:xnnpack", "onnx:17")),)

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        for target in quantized_targets(ctx):
            outcomes = predict(graph, target)
            if not outcomes:
                continue
            s = summarize(outcomes)
            first = next((o for o in outcomes if o.status != QUANTIZED), outcomes[0])
            weights_only = target.unit.precisions[target.precision].weights_only
            kept = f"; kept in float{'16' if weights_only else ''}: {', '.join(s['kept_float'])}" if s[
                "kept_float"] else ("; fully quantized" if not s["undecided"] else "")
            undecided = f" ({s['undecided']} not decided by the tables)" if s["undecided"] else ""
            if weights_only:  # the rest stays float16; compute is float
                message = (f"int8-weight summary for {target}: {s['quantized']} of {s['ops']} ops with weights store "
                           f"them in int8{undecided}; {_share(s['params_int8'], s['params'])} of parameters in int8; "
                           f"weights {_size(s['bytes_fp16'])} fp16 / "
                           f"{_size(s['bytes_int8'] - 2 * (s['params'] - s['params_int8']))} with int8 weights; "
                           f"computed in float16 (weight-only){kept}")
            else:
                message = (f"int8 summary for {target}: {s['quantized']} of {s['ops']} ops quantized{undecided}; "
                           f"{_share(s['macs_int8'], s['macs'])} of MACs ({s['macs_int8']:,} of {s['macs']:,}) and "
                           f"{_share(s['params_int8'], s['params'])} of parameters in int8; weights "
                           f"{_size(s['bytes_fp32'])} fp32 / {_size(s['bytes_fp16'])} fp16 / "
                           f"{_size(s['bytes_int8'])} int8{kept}")
            yield self.finding(graph, message, node=first.node, target=target, data=tuple(s.items()))
