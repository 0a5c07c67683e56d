"""Rewrites on the captured torch program.

The representation is the unlifted `torch.fx.GraphModule` of `ExportedProgram.module()`: ATen ops
before decomposition (the names the checks report), parameters as `get_attr` nodes that a pass can
replace, and a module that `torch.export.export` captures again (so the result is saved with
`torch.export.save`). New nodes copy the metadata of the node they replace, so a fresh capture still
points at the user's source line.
"""

from __future__ import annotations

import copy
import math
import warnings
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from exportlint.checks.fp16_overflow import FINITE_FILL, MASK_FILLS, overflowing_fill
from exportlint.engine.rule import Applicability
from exportlint.errors import UsageError
from exportlint.fix.passes import SUCCESS, SUPPRESSED, MatchResult, PassResult, Refusal, RewritePass

if TYPE_CHECKING:
    from pathlib import Path

    import torch
    from torch.fx import GraphModule, Node

    from exportlint.fix.loop import FixResult
    from exportlint.options import Options


# --- helpers ----------------------------------------------------------------------------------------

def _aten(name: str):
    import torch

    packet, overload = name.removeprefix("aten.").split(".")
    return getattr(getattr(torch.ops.aten, packet), overload)


def _is(node: Any, *ops: str) -> bool:
    return getattr(node, "op", None) == "call_function" and str(node.target) in ops


def fetch_attr(gm: GraphModule, target: str):
    value: Any = gm
    for part in target.split("."):
        value = getattr(value, part)
    return value


def constant(gm: GraphModule, arg: Any) -> "torch.Tensor | None":
    """The value of an argument that is a parameter, buffer or Python number; None otherwise."""
    import torch

    if isinstance(arg, (int, float)) and not isinstance(arg, bool):
        return torch.tensor(float(arg))
    if getattr(arg, "op", None) == "get_attr":
        value = fetch_attr(gm, arg.target)
        return value.detach() if isinstance(value, torch.Tensor) else None
    return None


def add_constant(gm: GraphModule, before: Node, stem: str, value: "torch.Tensor") -> Node:
    """Register `value` as a new (frozen) parameter of `gm` and return a get_attr node for it."""
    import torch

    base = stem.replace(".", "_") + "_fixed"
    name, i = base, 0
    while hasattr(gm, name):
        i += 1
        name = f"{base}_{i}"
    gm.register_parameter(name, torch.nn.Parameter(value.contiguous(), requires_grad=False))
    with gm.graph.inserting_before(before):
        node = gm.graph.get_attr(name)
    node.meta["val"] = value
    return node


def call(gm: GraphModule, like: Node, op: str, *args: Any) -> Node:
    """A new call to ATen `op`, inserted before `like` and carrying its source metadata."""
    with gm.graph.inserting_before(like):
        node = gm.graph.call_function(_aten(op), tuple(args))
    node.meta.update({k: v for k, v in like.meta.items() if k in ("stack_trace", "nn_module_stack", "source_fn_stack")})
    return node


def editable(ep) -> GraphModule:
    """The unlifted module of an ExportedProgram, made re-exportable: without the input-shape guard
    module (a rewritten graph may accept more shapes than the capture saw, the point of the shape
    rewrites) and without the instance-level train()/eval() that raise (the capture already fixed
    each op's mode in its arguments, e.g. batch_norm's `training`)."""
    gm = ep.module()
    for node in list(gm.graph.nodes):
        if node.op == "call_module" and node.target == "_guards_fn":
            gm.graph.erase_node(node)
    for name in ("_guards_fn", "train", "eval"):
        if name in gm.__dict__ or name in gm._modules:
            delattr(gm, name)
    gm.recompile()
    return gm


def _drop_unused_attrs(gm: GraphModule) -> None:
    used = {n.target for n in gm.graph.nodes if n.op == "get_attr"}
    for name, _ in list(gm.named_parameters()) + list(gm.named_buffers()):
        if name not in used:
            owner, _, leaf = name.rpartition(".")
            delattr(gm.get_submodule(owner) if owner else gm, leaf)


def op_names(gm: GraphModule) -> list[str]:
    """The ATen ops of the graph, in order (what a pass's op-list test looks at)."""
    return [str(n.target) for n in gm.graph.nodes if n.op == "call_function" and hasattr(n.target, "_schema")]


# --- the pass base ----------------------------------------------------------------------------------

class FxPass(RewritePass["GraphModule"]):
    """pattern (cheap, structural) -> check (may refuse, with a reason) -> rewrite, on a deep copy."""

    def pattern(self, node: Node) -> bool:
        raise NotImplementedError

    def check(self, gm: GraphModule, node: Node) -> MatchResult:
        return SUCCESS

    def rewrite(self, gm: GraphModule, node: Node) -> None:
        raise NotImplementedError

    def __call__(self, model: GraphModule, keep: frozenset[str] = frozenset()) -> PassResult[GraphModule]:
        gm = copy.deepcopy(model)
        result = PassResult(gm, False)
        for node in list(gm.graph.nodes):
            if node.graph is not gm.graph or not self.pattern(node):
                continue  # erased by an earlier rewrite, or not a candidate
            name = node.name
            match = MatchResult.fail(SUPPRESSED) if name in keep else self.check(gm, node)
            if not match.ok:
                result.refused.append(Refusal(name, match.reason))
                continue
            self.rewrite(gm, node)
            result.rewritten.append(name)
        if result.rewritten:
            gm.graph.eliminate_dead_code()
            _drop_unused_attrs(gm)
            gm.graph.lint()
            gm.recompile()
            result.modified = True
        return result


def _replace(gm: GraphModule, old: Node, new: Node) -> None:
    new.meta.setdefault("val", old.meta.get("val"))
    old.replace_all_uses_with(new)
    gm.graph.erase_node(old)


# --- BatchNorm folding ------------------------------------------------------------------------------

_CONVS = ("aten.conv1d.default", "aten.conv2d.default", "aten.conv3d.default")
_BN = "aten.batch_norm.default"


class FoldBatchNorm(FxPass):
    name = "fold-batchnorm"
    summary = "fold an inference BatchNorm into the conv / linear before it"
    applicability = Applicability.SAFE
    removes = (_BN,)

    def pattern(self, node: Node) -> bool:
        return _is(node, _BN) and _is(node.args[0], *_CONVS, "aten.linear.default")

    def check(self, gm: GraphModule, node: Node) -> MatchResult:
        layer = node.args[0]
        weight, bias, mean, var, training = node.args[1:6]
        if training:
            return MatchResult.fail("batch_norm runs in training mode: its statistics come from the batch")
        if len(layer.users) != 1:
            return MatchResult.fail(f"{layer.name}'s output is also used elsewhere: folding would change it")
        if constant(gm, layer.args[1]) is None:
            return MatchResult.fail(f"{layer.name}'s weight is not a constant parameter")
        if len(layer.args) > 2 and layer.args[2] is not None and constant(gm, layer.args[2]) is None:
            return MatchResult.fail(f"{layer.name}'s bias is not a constant parameter")
        if mean is None or var is None or constant(gm, mean) is None or constant(gm, var) is None:
            return MatchResult.fail("batch_norm has no running statistics (track_running_stats=False)")
        if any(a is not None and constant(gm, a) is None for a in (weight, bias)):
            return MatchResult.fail("batch_norm's affine parameters are not constants")
        if _is(layer, "aten.linear.default") and len(layer.meta["val"].shape) != 2:
            return MatchResult.fail("linear output is not 2-D: batch_norm's channel is not its feature dim")
        return SUCCESS

    def rewrite(self, gm: GraphModule, node: Node) -> None:
        import torch

        layer = node.args[0]
        w = constant(gm, layer.args[1]).double()
        out = w.shape[0]
        b = constant(gm, layer.args[2]).double() if len(layer.args) > 2 and layer.args[2] is not None \
            else torch.zeros(out, dtype=torch.float64)
        gamma, beta, mean, var = (constant(gm, a).double() if a is not None else None for a in node.args[1:5])
        gamma = gamma if gamma is not None else torch.ones(out, dtype=torch.float64)
        beta = beta if beta is not None else torch.zeros(out, dtype=torch.float64)
        scale = gamma / torch.sqrt(var + node.args[7])
        dtype = layer.args[1].meta["val"].dtype
        new_w = (w * scale.reshape(-1, *([1] * (w.dim() - 1)))).to(dtype)
        new_b = ((b - mean) * scale + beta).to(dtype)
        stem = layer.args[1].target.rsplit(".", 1)[0] if layer.args[1].op == "get_attr" else layer.name
        w_node = add_constant(gm, layer, stem + ".weight", new_w)
        b_node = add_constant(gm, layer, stem + ".bias", new_b)
        layer.args = (layer.args[0], w_node, b_node, *layer.args[3:])
        _replace(gm, node, layer)


# --- hard activations -------------------------------------------------------------------------------

class _Activation(FxPass):
    op: ClassVar[str]
    targeted = True

    def pattern(self, node: Node) -> bool:
        return _is(node, self.op)

    def replacement(self, gm: GraphModule, node: Node, x: Node) -> Node:
        raise NotImplementedError

    def rewrite(self, gm: GraphModule, node: Node) -> None:
        _replace(gm, node, self.replacement(gm, node, node.args[0]))


class HardSigmoidToClamp(_Activation):
    name = "hardsigmoid-to-clamp"
    summary = "hardsigmoid(x) -> clamp(x + 3, 0, 6) / 6: the same function from basic ops, bit for bit"
    applicability = Applicability.SAFE
    op = "aten.hardsigmoid.default"
    removes = (op,)

    def replacement(self, gm, node, x):
        shifted = call(gm, node, "aten.clamp.default", call(gm, node, "aten.add.Tensor", x, 3.0), 0.0, 6.0)
        return call(gm, node, "aten.div.Tensor", shifted, 6.0)


class HardSigmoidToSigmoid(_Activation):
    name = "hardsigmoid-to-sigmoid"
    summary = "hardsigmoid(x) -> sigmoid(x): a smooth look-alike that changes the numbers"
    applicability = Applicability.UNSAFE
    op = "aten.hardsigmoid.default"
    removes = (op,)

    def replacement(self, gm, node, x):
        return call(gm, node, "aten.sigmoid.default", x)


class HardSwishDecompose(_Activation):
    name = "hardswish-decompose"
    summary = "hardswish(x) -> x * relu6(x + 3) / 6, with relu6 as clamp(., 0, 6)"
    applicability = Applicability.SAFE
    op = "aten.hardswish.default"
    removes = (op,)

    def replacement(self, gm, node, x):
        relu6 = call(gm, node, "aten.clamp.default", call(gm, node, "aten.add.Tensor", x, 3.0), 0.0, 6.0)
        return call(gm, node, "aten.div.Tensor", call(gm, node, "aten.mul.Tensor", x, relu6), 6.0)


# --- shape-dependent pooling and flatten ------------------------------------------------------------

def _static_shape(node: Node) -> tuple | None:
    val = node.meta.get("val")
    return tuple(val.shape) if val is not None else None


class GlobalAvgPool(FxPass):
    name = "pool-to-adaptive"
    summary = "avg_pool2d whose kernel is the input's spatial size -> adaptive_avg_pool2d(1)"
    applicability = Applicability.SAFE
    removes = ("aten.avg_pool2d.default",)

    def pattern(self, node: Node) -> bool:
        return _is(node, "aten.avg_pool2d.default")

    def check(self, gm: GraphModule, node: Node) -> MatchResult:
        names = ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
        args = dict(zip(names, node.args)) | dict(node.kwargs)
        shape = _static_shape(node.args[0])
        kernel = list(args["kernel_size"]) * (2 if len(args["kernel_size"]) == 1 else 1)
        if shape is None or kernel != list(shape[-2:]):
            return MatchResult.fail(f"kernel {kernel} is not the input's spatial size {list(shape[-2:]) if shape else '?'}")
        if any(args.get("padding", [0])):
            return MatchResult.fail(f"padding {args['padding']}: the window covers more than the input")
        if args.get("divisor_override"):
            return MatchResult.fail("divisor_override changes the mean")
        return SUCCESS

    def rewrite(self, gm, node):
        _replace(gm, node, call(gm, node, "aten.adaptive_avg_pool2d.default", node.args[0], [1, 1]))


class ViewToFlatten(FxPass):
    name = "view-to-flatten"
    summary = "x.view(x.size(0), -1) / reshape -> torch.flatten(x, 1)"
    applicability = Applicability.SAFE
    removes = ("aten.view.default", "aten.reshape.default")

    def pattern(self, node: Node) -> bool:
        return _is(node, *self.removes) and isinstance(node.args[1], (list, tuple)) and len(node.args[1]) == 2

    def check(self, gm: GraphModule, node: Node) -> MatchResult:
        shape = _static_shape(node.args[0])
        size = list(node.args[1])
        if shape is None or len(shape) < 2:
            return MatchResult.fail("input is not at least 2-D")
        rest = math.prod(shape[1:]) if all(isinstance(d, int) for d in shape[1:]) else None
        if str(size[0]) != str(shape[0]) or size[1] not in (-1, rest):
            return MatchResult.fail(f"size {size} is not (batch, -1) for an input of shape {list(shape)}")
        return SUCCESS

    def rewrite(self, gm, node):
        _replace(gm, node, call(gm, node, "aten.flatten.using_ints", node.args[0], 1, -1))


# --- input normalisation ----------------------------------------------------------------------------

def _per_channel(value: "torch.Tensor", channels: int) -> "torch.Tensor | None":
    """A scalar or (C,) / (C,1,1) / (1,C,1,1) constant as a (C,) vector; None if it is not per-channel."""
    flat = value.reshape(-1)
    if flat.numel() == 1:
        return flat.expand(channels).clone()
    if flat.numel() == channels and all(d == 1 for i, d in enumerate(value.shape) if d != channels):
        return flat
    return None


class FoldNormalization(FxPass):
    """(x - mean) / std on a graph input, folded into the conv that reads it."""

    name = "fold-normalization"
    summary = "fold an input normalisation (x - mean) / std into the first conv's weights and bias"
    applicability = Applicability.SAFE
    removes = ("aten.sub.Tensor", "aten.div.Tensor")

    def pattern(self, node: Node) -> bool:
        if not _is(node, *_CONVS):
            return False
        scale = node.args[0]
        return _is(scale, "aten.div.Tensor", "aten.mul.Tensor") and _is(scale.args[0], "aten.sub.Tensor") \
            and scale.args[0].args[0].op == "placeholder"

    def _stats(self, gm, node):
        scale, sub = node.args[0], node.args[0].args[0]
        channels = constant(gm, node.args[1]).shape[1]
        mean, factor = constant(gm, sub.args[1]), constant(gm, scale.args[1])
        if mean is None or factor is None:
            return None
        mean, factor = _per_channel(mean.double(), channels), _per_channel(factor.double(), channels)
        if mean is None or factor is None:
            return None
        return mean, (1 / factor if _is(scale, "aten.div.Tensor") else factor)

    def check(self, gm: GraphModule, node: Node) -> MatchResult:
        scale, sub = node.args[0], node.args[0].args[0]
        if len(scale.users) != 1 or len(sub.users) != 1:
            return MatchResult.fail("the normalised input is also used outside the conv")
        if constant(gm, node.args[1]) is None:
            return MatchResult.fail(f"{node.name}'s weight is not a constant parameter")
        groups = node.args[6] if len(node.args) > 6 else 1
        if groups != 1:
            return MatchResult.fail(f"{node.name} is a grouped conv (groups={groups})")
        if self._stats(gm, node) is None:
            return MatchResult.fail("mean / std are not constant scalars or per-channel vectors")
        padding = node.args[4] if len(node.args) > 4 else 0
        if padding == "same" or any(p for p in (padding if isinstance(padding, (list, tuple)) else [padding])):
            return MatchResult.fail(
                f"{node.name} zero-pads its input (padding={padding}): padded zeros of the raw input are not "
                "the normalised zeros, so the border would change; the normalisation stays as graph ops")
        return SUCCESS

    def rewrite(self, gm: GraphModule, node: Node) -> None:
        import torch

        mean, inv_std = self._stats(gm, node)
        w = constant(gm, node.args[1]).double()
        b = constant(gm, node.args[2]).double() if len(node.args) > 2 and node.args[2] is not None \
            else torch.zeros(w.shape[0], dtype=torch.float64)
        view = (1, -1, *([1] * (w.dim() - 2)))
        new_w = w * inv_std.reshape(view)
        new_b = b - (new_w * mean.reshape(view)).sum(dim=tuple(range(1, w.dim())))
        dtype = node.args[1].meta["val"].dtype
        stem = node.args[1].target.rsplit(".", 1)[0] if node.args[1].op == "get_attr" else node.name
        w_node = add_constant(gm, node, stem + ".weight", new_w.to(dtype))
        b_node = add_constant(gm, node, stem + ".bias", new_b.to(dtype))
        raw = node.args[0].args[0].args[0]
        node.args = (raw, w_node, b_node, *node.args[3:])


class IncludePreprocessing(FxPass):
    """Prepend (x - mean) / std to a graph input: the exported model then takes raw inputs."""

    name = "include-preprocessing"
    summary = "prepend the declared input normalisation (x - mean) / std so the model carries it"
    applicability = Applicability.SAFE

    def __init__(self, mean: Sequence[float], std: Sequence[float], input_index: int = 0):
        self.mean, self.std, self.input_index = tuple(mean), tuple(std), input_index

    def pattern(self, node: Node) -> bool:
        placeholders = [n for n in node.graph.nodes if n.op == "placeholder"]
        return len(placeholders) > self.input_index and node is placeholders[self.input_index]

    def _shaped(self, values: tuple[float, ...], like: "torch.Tensor") -> "torch.Tensor":
        import torch

        return torch.tensor(values, dtype=like.dtype).reshape(-1, *([1] * (like.dim() - 2)))

    def check(self, gm: GraphModule, node: Node) -> MatchResult:
        val = node.meta.get("val")
        if val is None or not val.dtype.is_floating_point or val.dim() < 2:
            return MatchResult.fail("the input is not a floating-point tensor with a channel dimension")
        channels = val.shape[1]
        if len(self.mean) not in (1, channels) or len(self.std) not in (1, channels):
            return MatchResult.fail(f"mean/std have {len(self.mean)}/{len(self.std)} values; the input has "
                                    f"{channels} channels")
        if any(s == 0 for s in self.std):
            return MatchResult.fail("std contains 0")
        return SUCCESS

    def rewrite(self, gm: GraphModule, node: Node) -> None:
        val = node.meta["val"]
        first = next(n for n in gm.graph.nodes if n.op not in ("placeholder", "get_attr"))
        users = list(node.users)
        mean = add_constant(gm, first, "input_mean", self._shaped(self.mean, val))
        std = add_constant(gm, first, "input_std", self._shaped(self.std, val))
        with gm.graph.inserting_before(first):
            sub = gm.graph.call_function(_aten("aten.sub.Tensor"), (node, mean))
            div = gm.graph.call_function(_aten("aten.div.Tensor"), (sub, std))
        for n in (sub, div):
            n.meta["val"] = val
        for user in users:
            user.replace_input_with(node, div)

    def transform_inputs(self, inputs):
        x = inputs[self.input_index]
        normalised = (x - self._shaped(self.mean, x)) / self._shaped(self.std, x)
        return tuple(normalised if i == self.input_index else t for i, t in enumerate(inputs))


# --- float16-finite mask fills ----------------------------------------------------------------------

class FiniteMaskFill(FxPass):
    name = "finite-mask-fill"
    summary = (f"mask fills below float16's range (torch.finfo(torch.float32).min, -1e9) -> {FINITE_FILL:g}: "
               "finite on float16 targets, changes the numbers only where a score is within 1e4 of the fill")
    applicability = Applicability.UNSAFE

    def pattern(self, node: Node) -> bool:
        return (node.op == "call_function" and str(node.target).rsplit(".", 1)[0] in MASK_FILLS
                and any(map(overflowing_fill, node.args)))

    def rewrite(self, gm: GraphModule, node: Node) -> None:
        node.args = tuple(FINITE_FILL if overflowing_fill(a) else a for a in node.args)


# --- the catalogue ----------------------------------------------------------------------------------

def torch_passes(mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> list[FxPass]:
    """Every torch pass, in the order they run. Preprocessing goes in first so that normalisation
    folding can then fold it; the exact hard-sigmoid rewrite comes before its unsafe alternative."""
    passes: list[FxPass] = []
    if mean is not None and std is not None:
        passes.append(IncludePreprocessing(mean, std))
    passes += [FoldNormalization(), FoldBatchNorm(), HardSigmoidToClamp(), HardSigmoidToSigmoid(),
               HardSwishDecompose(), GlobalAvgPool(), ViewToFlatten(), FiniteMaskFill()]
    return passes


# --- the driver -------------------------------------------------------------------------------------

def fix_torch(spec, options: Options, output: Path, unsafe, shapes, dtypes, inputs_file, select) -> FixResult:
    """`exportlint fix` of a PyTorch model: torch.export, the passes on an editable copy of its graph, the
    fixed program re-exported and written (.pt2, or .onnx at the lowest requested opset)."""
    import torch

    from exportlint.capture.pytorch import capture_torch, load_spec
    from exportlint.fix.measure import load_inputs, random_like
    from exportlint.fix.loop import (FixResult, compare, describe_inputs, findings_of, original_inputs, plan,
                                     run_passes)

    model, inputs = load_spec(spec, shapes, dtypes)
    graph = capture_torch(model, inputs, options, spec)
    if not isinstance(graph.source, torch.export.ExportedProgram):
        raise UsageError(f"{spec}: graph fixes need a torch.export capture; it was captured with "
                         f"{graph.capture.method or 'nothing'} (run `exportlint check` for the reason)")
    before, keep = findings_of(graph, options)
    gm = editable(graph.source)
    input_sets = random_like(inputs)
    if inputs_file is not None:
        input_sets.append(load_inputs(inputs_file, len(inputs)))
    described = describe_inputs(len(input_sets) - (inputs_file is not None), inputs_file)
    planned = plan(torch_passes(options.mean, options.std), options.targets, "aten", before, unsafe, select)
    fixed, outcomes, applied = run_passes(gm, planned, run_torch, input_sets, described, unsafe, keep)
    total = compare(lambda xs: run_torch(model, xs), lambda xs: run_torch(fixed, xs),
                    [(original_inputs(applied, x), x) for x in input_sets], described) if applied else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = capture_torch(fixed, inputs, options, spec)
    if not isinstance(fresh.source, torch.export.ExportedProgram):
        raise UsageError(f"{spec}: the fixed model no longer exports with torch.export: "
                         f"{'; '.join(why for _, why in fresh.capture.attempts[:1])}")
    notes = write_torch(fresh.source, inputs, output, options)
    return FixResult(spec, output, outcomes, total, before, findings_of(fresh, options)[0], notes)


def run_torch(model, inputs: Sequence) -> list:
    import torch
    from torch.utils._pytree import tree_leaves

    with torch.no_grad():
        out = model(*inputs)
    return [t.detach().numpy() for t in tree_leaves(out) if isinstance(t, torch.Tensor)]


def write_torch(ep, inputs: Sequence, output: Path, options: Options) -> list[str]:
    """Save the program (.pt2), or export it to ONNX at the lowest requested opset; returns notes."""
    import logging

    import torch

    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".pt2":
        torch.export.save(ep, output)
        return []
    opsets = [int(t.version) for t in options.targets if t.family == "onnx" and t.version.isdigit()]
    wanted = min(opsets) if opsets else None
    logging.disable(logging.WARNING)  # torch.onnx logs its down-conversion attempts with tracebacks
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(ep, tuple(inputs), dynamo=True, opset_version=wanted, verbose=False)
    finally:
        logging.disable(logging.NOTSET)
    program.save(str(output))
    written = next((o.version for o in program.model_proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if wanted is not None and written != wanted:
        return [f"torch.onnx wrote opset {written}: it could not down-convert this model to opset {wanted}"]
    return []
