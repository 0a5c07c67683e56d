"""The same rewrites on ONNX models, as onnxscript rewriter rules over onnx-ir (no hand-edited protos).

Each rule is a `RewriteRuleClassBase`: `pattern` / `check` (a refusal is `MatchResult.fail(reason)`) /
`rewrite`. BatchNorm folding reuses onnxscript's own rules. A pass records each candidate's refusal
reason as its check runs, applies the rules to a copy of the model, and reports what changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np
import onnx_ir as ir
from onnxscript.rewriter import pattern
from onnxscript.rewriter._basics import MatchResult
from onnxscript.rewriter.rules.common import _fuse_batchnorm

from exportlint.engine.rule import Applicability
from exportlint.errors import UsageError
from exportlint.fix.passes import SUPPRESSED, PassResult, Refusal, RewritePass

if TYPE_CHECKING:
    from exportlint.options import Options
    from exportlint.fix.loop import FixResult


def _copy(model: ir.Model) -> ir.Model:
    return ir.serde.deserialize_model(ir.serde.serialize_model(model))


def _const(value: ir.Value | None) -> np.ndarray | None:
    if value is None:
        return None
    tensor = value.const_value
    if tensor is None and value.producer() is not None and value.producer().op_type == "Constant":
        attr = value.producer().attributes.get("value")
        tensor = attr.as_tensor() if attr is not None else None
    return tensor.numpy() if tensor is not None else None


def _scalar(op, value: float, like: ir.Value):
    dtype = like.dtype.numpy() if like.dtype is not None else np.float32
    return op.Constant(value=ir.tensor(np.array(value, dtype=dtype)))


class _Recorder:
    """A rule's `check`, wrapped to remember the root node of every accepted match and the reason of
    every refusal (the rewriter itself only logs them)."""

    def __init__(self, check, keep: frozenset[str]):
        self.accepted: list[str] = []
        self.refusals: list[Refusal] = []
        self._check, self._keep = check, keep

    def __call__(self, context, *args, **kwargs) -> MatchResult:
        root = context.root.name or context.root.op_type
        result = MatchResult().fail(SUPPRESSED) if root in self._keep else self._check(context, *args, **kwargs)
        if result:
            self.accepted.append(root)
        else:
            self.refusals.append(Refusal(root, getattr(result, "reason", "") or "check failed"))
        return result


def _recorded_rule(cls: type[pattern.RewriteRuleClassBase], keep: frozenset[str]
                   ) -> tuple[pattern.RewriteRule, _Recorder]:
    """`cls.rule()`, with the recorder as its condition function."""
    rule = cls()
    recorder = _Recorder(rule.check, keep)
    return pattern.RewriteRule(rule.pattern, rule.rewrite, recorder, name=rule.name,
                               remove_nodes=rule.remove_nodes, graph_pre_visitor=rule.setup,
                               graph_post_visitor=rule.cleanup, as_function=rule.as_function), recorder


class OnnxPass(RewritePass[ir.Model]):
    rule_classes: ClassVar[tuple[type[pattern.RewriteRuleClassBase], ...]]

    def __call__(self, model: ir.Model, keep: frozenset[str] = frozenset()) -> PassResult[ir.Model]:
        new = _copy(model)
        rules, recorders = zip(*(_recorded_rule(cls, keep) for cls in self.rule_classes))
        count = pattern.RewriteRuleSet(list(rules)).apply_to_model(new)
        refused = list(dict.fromkeys(x for r in recorders for x in r.refusals))
        rewritten = [name for r in recorders for name in r.accepted]
        return PassResult(new, bool(count), rewritten, refused)


# --- rules ------------------------------------------------------------------------------------------

class _HardSigmoidBase(pattern.RewriteRuleClassBase):
    def pattern(self, op, x):
        return op.HardSigmoid(x, _allow_other_attributes=True, _outputs=["out"])

    @staticmethod
    def alpha_beta(out: ir.Value) -> tuple[float, float]:
        attrs = out.producer().attributes
        return attrs.get_float("alpha", 0.2), attrs.get_float("beta", 0.5)  # ONNX defaults


class _HardSigmoidClip(_HardSigmoidBase):
    def rewrite(self, op, x, out):
        alpha, beta = self.alpha_beta(out)
        y = op.Add(op.Mul(x, _scalar(op, alpha, x)), _scalar(op, beta, x))
        return op.Clip(y, _scalar(op, 0.0, x), _scalar(op, 1.0, x))


class _HardSigmoidSigmoid(_HardSigmoidBase):
    def rewrite(self, op, x, out):
        return op.Sigmoid(x)


class _HardSwish(pattern.RewriteRuleClassBase):
    def pattern(self, op, x):
        return op.HardSwish(x)

    def rewrite(self, op, x):
        relu6 = op.Clip(op.Add(x, _scalar(op, 3.0, x)), _scalar(op, 0.0, x), _scalar(op, 6.0, x))
        return op.Div(op.Mul(x, relu6), _scalar(op, 6.0, x))


class _GlobalPool(pattern.RewriteRuleClassBase):
    def pattern(self, op, x):
        return op.AveragePool(x, _allow_other_attributes=True, _outputs=["out"])

    def check(self, context, x, out) -> MatchResult:
        attrs = out.producer().attributes
        kernel = list(attrs.get_ints("kernel_shape", []))
        spatial = list(x.shape[2:]) if x.shape is not None else None
        if spatial is None or kernel != spatial:
            return MatchResult().fail(f"kernel {kernel} is not the input's spatial size {spatial}")
        if any(attrs.get_ints("pads", [])) or attrs.get_string("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            return MatchResult().fail("the pool pads its input")
        return MatchResult()

    def rewrite(self, op, x, out):
        return op.GlobalAveragePool(x)


class _Flatten(pattern.RewriteRuleClassBase):
    def pattern(self, op, x, shape):
        return op.Reshape(x, shape, _allow_other_attributes=True)

    def check(self, context, x, shape) -> MatchResult:
        size = _const(shape)
        dims = list(x.shape) if x.shape is not None else None
        if size is None or size.ndim != 1 or len(size) != 2:
            return MatchResult().fail("the target shape is not a constant pair")
        if dims is None or len(dims) < 2 or not isinstance(dims[0], int):
            return MatchResult().fail("the input's rank or batch size is unknown")
        rest = int(np.prod(dims[1:])) if all(isinstance(d, int) for d in dims[1:]) else None
        if int(size[0]) != dims[0] or int(size[1]) not in (-1, rest):
            return MatchResult().fail(f"shape {size.tolist()} is not (batch, -1) for an input of shape {dims}")
        return MatchResult()

    def rewrite(self, op, x, shape):
        return op.Flatten(x, axis=1)


class _FoldNormalization(pattern.RewriteRuleClassBase):
    def pattern(self, op, x, mean, std, w):
        return op.Conv(op.Div(op.Sub(x, mean), std), w, _allow_other_inputs=True, _allow_other_attributes=True,
                       _outputs=["out"])

    def check(self, context, x, mean, std, w, out) -> MatchResult:
        conv = out.producer()
        if not x.is_graph_input():
            return MatchResult().fail(f"{x.name} is not a graph input")
        if _const(mean) is None or _const(std) is None or _const(w) is None:
            return MatchResult().fail("mean, std or the conv weight is not a constant")
        if conv.attributes.get_int("group", 1) != 1:
            return MatchResult().fail("grouped conv")
        channels = _const(w).shape[1]
        if any(_per_channel(_const(v), channels) is None for v in (mean, std)):
            return MatchResult().fail("mean / std are not scalars or per-channel vectors")
        pads = list(conv.attributes.get_ints("pads", []))
        auto = conv.attributes.get_string("auto_pad", "NOTSET")
        if any(pads) or auto in ("SAME_UPPER", "SAME_LOWER"):
            return MatchResult().fail(
                f"{conv.name} zero-pads its input (pads={pads or auto}): padded zeros of the raw input are "
                "not the normalised zeros, so the border would change; the normalisation stays as graph ops")
        return MatchResult()

    def rewrite(self, op, x, mean, std, w, out):
        conv = out.producer()
        weight = _const(w).astype(np.float64)
        channels = weight.shape[1]
        m = _per_channel(_const(mean), channels).astype(np.float64)
        s = _per_channel(_const(std), channels).astype(np.float64)
        view = (1, -1) + (1,) * (weight.ndim - 2)
        new_w = weight / s.reshape(view)
        bias = _const(conv.inputs[2]) if len(conv.inputs) > 2 and conv.inputs[2] is not None else None
        bias = bias.astype(np.float64) if bias is not None else np.zeros(weight.shape[0])
        new_b = bias - (new_w * m.reshape(view)).sum(axis=tuple(range(1, weight.ndim)))
        dtype = _const(w).dtype
        return op.Conv(x, op.initializer(ir.tensor(new_w.astype(dtype)), name=f"{w.name}_normfolded"),
                       op.initializer(ir.tensor(new_b.astype(dtype)), name=f"{w.name}_normfolded_bias"),
                       **conv.attributes)


def _per_channel(value: np.ndarray, channels: int) -> np.ndarray | None:
    flat = value.reshape(-1)
    if flat.size == 1:
        return np.repeat(flat, channels)
    if flat.size == channels and all(d == 1 for d in value.shape if d != channels):
        return flat
    return None


# --- passes -----------------------------------------------------------------------------------------

class FoldBatchNorm(OnnxPass):
    name = "fold-batchnorm"
    summary = "fold an inference BatchNormalization into the Conv / Gemm before it"
    applicability = Applicability.SAFE
    removes = ("ai.onnx::BatchNormalization",)
    rule_classes = (_fuse_batchnorm.FuseBatchNormIntoConv, _fuse_batchnorm.FuseBatchNormIntoGemm)


class HardSigmoidToClip(OnnxPass):
    name = "hardsigmoid-to-clamp"
    summary = "HardSigmoid(x) -> Clip(alpha * x + beta, 0, 1): the same function from basic ops"
    applicability = Applicability.SAFE
    removes = ("ai.onnx::HardSigmoid",)
    targeted = True
    rule_classes = (_HardSigmoidClip,)


class HardSigmoidToSigmoid(OnnxPass):
    name = "hardsigmoid-to-sigmoid"
    summary = "HardSigmoid(x) -> Sigmoid(x): a smooth look-alike that changes the numbers"
    applicability = Applicability.UNSAFE
    removes = ("ai.onnx::HardSigmoid",)
    targeted = True
    rule_classes = (_HardSigmoidSigmoid,)


class HardSwishDecompose(OnnxPass):
    name = "hardswish-decompose"
    summary = "HardSwish(x) -> x * Clip(x + 3, 0, 6) / 6"
    applicability = Applicability.SAFE
    removes = ("ai.onnx::HardSwish",)
    targeted = True
    rule_classes = (_HardSwish,)


class GlobalAvgPool(OnnxPass):
    name = "pool-to-adaptive"
    summary = "AveragePool whose kernel is the input's spatial size -> GlobalAveragePool"
    applicability = Applicability.SAFE
    removes = ("ai.onnx::AveragePool",)
    rule_classes = (_GlobalPool,)


class ReshapeToFlatten(OnnxPass):
    name = "view-to-flatten"
    summary = "Reshape(x, [batch, -1]) -> Flatten(x, axis=1)"
    applicability = Applicability.SAFE
    removes = ("ai.onnx::Reshape",)
    rule_classes = (_Flatten,)


class FoldNormalization(OnnxPass):
    name = "fold-normalization"
    summary = "fold an input normalisation (x - mean) / std into the first Conv's weights and bias"
    applicability = Applicability.SAFE
    removes = ("ai.onnx::Sub", "ai.onnx::Div")
    rule_classes = (_FoldNormalization,)


class IncludePreprocessing(RewritePass[ir.Model]):
    """Prepend (x - mean) / std to graph input 0 with onnx-ir: the model then takes raw inputs."""

    name = "include-preprocessing"
    summary = "prepend the declared input normalisation (x - mean) / std so the model carries it"
    applicability = Applicability.SAFE

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean, self.std = tuple(mean), tuple(std)

    def _shaped(self, values, rank: int, dtype) -> np.ndarray:
        return np.array(values, dtype=dtype).reshape(-1, *([1] * (rank - 2)))

    def __call__(self, model: ir.Model, keep: frozenset[str] = frozenset()) -> PassResult[ir.Model]:
        new = _copy(model)
        x = new.graph.inputs[0]
        if x.shape is None or len(x.shape) < 2 or x.dtype not in (ir.DataType.FLOAT, ir.DataType.FLOAT16,
                                                                   ir.DataType.DOUBLE):
            return PassResult(model, False, refused=[Refusal(x.name, "input 0 is not a float tensor with channels")])
        channels = x.shape[1]
        if not isinstance(channels, int) or {len(self.mean), len(self.std)} - {1, channels}:
            return PassResult(model, False, refused=[Refusal(
                x.name, f"mean/std have {len(self.mean)}/{len(self.std)} values; the input has {channels} channels")])
        dtype = x.dtype.numpy()
        mean = ir.Value(name=f"{x.name}_mean", const_value=ir.tensor(self._shaped(self.mean, len(x.shape), dtype)))
        std = ir.Value(name=f"{x.name}_std", const_value=ir.tensor(self._shaped(self.std, len(x.shape), dtype)))
        for v in (mean, std):
            new.graph.register_initializer(v)
        users = list(x.uses())
        sub = ir.node("Sub", [x, mean], name=f"{x.name}_sub_mean")
        div = ir.node("Div", [sub.outputs[0], std], name=f"{x.name}_div_std")
        div.outputs[0].name, div.outputs[0].shape, div.outputs[0].dtype = f"{x.name}_normalised", x.shape, x.dtype
        new.graph.insert_before(new.graph[0], [sub, div])
        for node, index in users:
            node.replace_input_with(index, div.outputs[0])
        return PassResult(new, True, [sub.name, div.name])

    def transform_inputs(self, inputs):
        x = inputs[0]
        normalised = (x - self._shaped(self.mean, x.ndim, x.dtype)) / self._shaped(self.std, x.ndim, x.dtype)
        return (normalised, *inputs[1:])


def onnx_passes(mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> list[RewritePass]:
    """Every ONNX pass, in the same order as the torch passes."""
    passes: list[RewritePass] = []
    if mean is not None and std is not None:
        passes.append(IncludePreprocessing(mean, std))
    passes += [FoldNormalization(), FoldBatchNorm(), HardSigmoidToClip(), HardSigmoidToSigmoid(),
               HardSwishDecompose(), GlobalAvgPool(), ReshapeToFlatten()]
    return passes


# --- running and fixing a .onnx file ----------------------------------------------------------------

def run_onnx(model: ir.Model, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(ir.serde.serialize_model(model).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, inputs)))


def random_inputs(model: ir.Model, draws: int, seed: int) -> list[tuple[np.ndarray, ...]]:
    """Random inputs from the graph's declared inputs; symbolic dims are taken as 1."""
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(draws):
        made = []
        for value in model.graph.inputs:
            if value.shape is None or value.dtype is None:
                raise UsageError(f"input {value.name} has no declared shape or dtype; pass --inputs")
            shape = tuple(d if isinstance(d, int) else 1 for d in value.shape)
            dtype = value.dtype.numpy()
            if np.issubdtype(dtype, np.floating):
                made.append(rng.standard_normal(shape).astype(dtype))
            elif dtype == np.bool_:
                made.append(rng.random(shape) > 0.5)
            else:
                made.append(rng.integers(0, 2, shape).astype(dtype))
        sets.append(tuple(made))
    return sets


def fix_onnx(path: Path, options: "Options", output: Path, unsafe: bool, inputs_file: Path | None,
             select: Sequence[str]) -> "FixResult":
    import onnx

    from exportlint.capture.onnx_file import capture_onnx, load_model
    from exportlint.fix.loop import (FixResult, compare, describe_inputs, findings_of, original_inputs, plan,
                                     run_passes)
    from exportlint.fix.measure import RANDOM_DRAWS, SEED, load_inputs

    graph = capture_onnx(path, options)
    before, keep = findings_of(graph, options)
    model = ir.serde.deserialize_model(load_model(path))
    input_sets: list[Any] = random_inputs(model, RANDOM_DRAWS, SEED)
    if inputs_file is not None:
        input_sets.append(tuple(t.numpy() for t in load_inputs(inputs_file, len(model.graph.inputs))))
    described = describe_inputs(RANDOM_DRAWS, inputs_file)
    planned = plan(onnx_passes(options.mean, options.std), options.targets, "onnx", before, unsafe, select)
    fixed, outcomes, applied = run_passes(model, planned, run_onnx, input_sets, described, unsafe, keep)
    total = compare(lambda xs: run_onnx(model, xs), lambda xs: run_onnx(fixed, xs),
                    [(original_inputs(applied, x), x) for x in input_sets], described) if applied else None
    proto = ir.serde.serialize_model(fixed)
    onnx.checker.check_model(proto, full_check=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, output)
    after, _ = findings_of(capture_onnx(output, options), options)
    return FixResult(str(path), output, outcomes, total, before, after)
