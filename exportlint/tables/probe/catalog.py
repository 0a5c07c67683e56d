"""One-op probe models shared by every probe runner (ONNX, Core ML, TFLite).

`CATALOG` maps a probe name to a `OneOp`; `OneOp.build()` returns a fresh `(module, inputs)` in eval
mode. A probe is *about* one ATen op (`OneOp.op`, `str(OpOverload)` as torch.export writes it before
`run_decompositions`), but runners must key results by the ops the exported graph really contains
(`exported_ops`), since a functional may lower to another op than the one it is named after. The
TorchScript paths key them by the traced graph's node kinds instead (`traced_ops`).

Probes come from two sources:
- hand-written builders for torch.nn layers and functionals, with the argument cases that matter
  (interpolate modes, pad modes, antialias, ...): `conditions` names the case;
- generated builders for core ATen ops, derived from the op schema (random float inputs, defaults for
  optional arguments). An op whose schema cannot be filled, or whose eager call fails, has no probe.

Every core ATen op an inference graph can contain is in some probe's exported graph; `EXCLUDED`
lists, with the reason, the core ops (and ops of the examples' and tests' models) that have none.

Import is cheap; torch is imported on the first call of `catalog()` (or access to `CATALOG`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Callable

from exportlint.tables import BOOKKEEPING_OPS

if TYPE_CHECKING:
    import torch

Inputs = tuple[Any, ...]


@dataclass(frozen=True)
class OneOp:
    name: str  # catalogue key: the op for generated probes, e.g. "F.interpolate[bicubic,aa]" otherwise
    op: str  # the ATen op the probe is about, e.g. "aten.grid_sampler.default"
    build: Callable[[], tuple["torch.nn.Module", Inputs]]
    conditions: str = ""  # the argument case covered, e.g. "mode='bicubic', antialias=True"
    origin: str = "nn"  # "nn" (hand-written layer/functional), "core" (generated from the schema)
    deterministic: bool = True  # False: outputs are random, compare shapes only
    # The form of `op`'s node that this case covers, as data (the schema of a variant's `match`, see
    # `exportlint.tables`): {"args": {NAME: VALUE}, "given": {NAME: bool}, "inputs": {"INDEX":
    # {"dtype": ..., "const": bool, "rank": int}}}. When the probes of an op disagree, each probed form
    # becomes a variant of the op's table entry, matched against every graph node's own form.
    match: dict[str, Any] | None = None




_BACKWARD = "backward op: only autograd's backward graph contains it, never an inference graph"
_SYM = "symbolic-shape bookkeeping: no tensor computation for a converter to translate"
_TRACE = ("written only by torch.jit.trace graphs (TorchScript scalar/shape plumbing); torch.export, "
          "which every probe uses, never writes it")
# Ops no probe is built for, with the reason: core ATen ops (`core_aten_ops()`) and ops of the
# examples' and tests' models. Every other core ATen op has a probe whose exported graph contains it.
EXCLUDED: dict[str, str] = {
    **dict.fromkeys([
        "aten._adaptive_avg_pool2d_backward.default", "aten.avg_pool2d_backward.default",
        "aten.convolution_backward.default", "aten.embedding_dense_backward.default",
        "aten.max_pool2d_with_indices_backward.default", "aten.native_group_norm_backward.default",
        "aten.native_layer_norm_backward.default"], _BACKWARD),
    **dict.fromkeys([
        "aten.sym_size.int", "aten.sym_numel.default", "aten.sym_stride.int",
        "aten.sym_storage_offset.default", "aten.sym_is_contiguous.default"], _SYM),
    "aten._local_scalar_dense.default": "torch.export writes `Tensor.item()` as aten.item.default "
                                        "(probe Tensor.item); this op only appears after run_decompositions, "
                                        "as the scalar read converters see for it",
    **dict.fromkeys(["aten.Int", "aten.ScalarImplicit", "aten.size", "aten.numel"], _TRACE),
    "aten._pad_packed_sequence": "torch.export cannot capture it (the padded length is data-dependent: "
                                 "'data is not allocated yet'), so only torch.jit.trace graphs contain it",
}


def exported_ops(module: "torch.nn.Module", inputs: Inputs) -> tuple[Any, list[str]]:
    """torch.export the module; return (ExportedProgram, sorted ATen ops it contains)."""
    import torch

    ep = torch.export.export(module, inputs)
    ops = sorted({str(n.target) for n in ep.graph.nodes
                  if n.op == "call_function" and isinstance(n.target, torch._ops.OpOverload)}
                 - BOOKKEEPING_OPS)
    return ep, ops


def traced_ops(module: "torch.nn.Module", inputs: Inputs) -> tuple[Any, list[str]]:
    """torch.jit.trace the module as `exportlint.capture.pytorch.trace_graph` captures user models;
    return (traced module, sorted TorchScript node kinds of its graph, bookkeeping dropped): what the
    TorchScript conversion paths (`torch.onnx.export(dynamo=False)`, `ct.convert` of a trace) see."""
    from exportlint.capture.pytorch import trace_graph

    graph = trace_graph(module, inputs, type(module).__name__)
    return graph.source, sorted(graph.by_op)


def torchscript_kind(op: str) -> str:
    """The TorchScript node kind of an ATen op name: `aten.grid_sampler.default` -> `aten::grid_sampler`."""
    parts = op.split(".")
    return f"{parts[0]}::{parts[1]}" if len(parts) >= 2 else op


# ---------------------------------------------------------------------------------------------
# Hand-written probes

# Forms of activation probes whose op another probe covers in another form (see `OneOp.match`).
_ACTIVATION_MATCH = {
    "F.relu6": {"given": {"min_val": True}}, "F.hardtanh": {"given": {"min_val": True}},
    "F.elu": {"given": {"alpha": True}}, "F.gelu": {"args": {"approximate": "none"}},
}
_F32 = {"inputs": {"0": {"dtype": "float32"}}}


def _with_dtype(match: dict[str, Any] | None) -> dict[str, Any] | None:
    """A hand-written probe's form includes its first input's dtype (float32, `_x`'s default) unless
    it names its inputs: a form probed on floats says nothing of integer inputs (torch.div with
    rounding_mode="floor" fails on LiteRT for floats and converts for int64)."""
    return {**_F32, **match} if match and "inputs" not in match else match
# Forms of the generated (schema-filled or listed core) probes, for ops whose support depends on them:
# they call the overload with the schema's defaults, which no hand-written probe does.
CORE_MATCH: dict[str, dict[str, Any]] = {
    "aten.hardtanh.default": {"given": {"min_val": False}},
    "aten.elu.default": {"given": {"alpha": False}},
    "aten.gelu.default": {"args": {"approximate": "none"}},
    "aten.amax.default": {"given": {"dim": False}, **_F32},
    "aten.argmax.default": {"given": {"dim": False}},
    "aten.adaptive_avg_pool1d.default": {"args": {"output_size": [2]}},
    "aten.upsample_nearest2d.vec": {"given": {"output_size": True}},
    "aten.upsample_bilinear2d.vec": {"given": {"output_size": True}, "args": {"align_corners": False}},
    "aten.index.Tensor": {"inputs": {"1": {"dtype": "int64"}}},
    "aten.addmm.default": {"inputs": {"2": {"const": False}}},
    "aten.div.Scalar_mode": {"args": {"rounding_mode": "floor"}, **_F32},
    "aten.bitwise_not.default": {"inputs": {"0": {"dtype": "int64"}}},
    **dict.fromkeys(["aten.sum.dim_IntList", "aten.mean.dim", "aten.mean.default",
                     "aten.cumsum.default"], _F32),
    "aten.sort.default": {"args": {"descending": False}},
    "aten.topk.default": {"args": {"largest": True}},
}


def _Inverse():  # noqa: N802 - builds a module: x @ inv(W) with W a parameter
    import torch

    class Inverse(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.rand(3, 3) * 0.3 + 2 * torch.eye(3))

        def forward(self, x):
            return x @ torch.linalg.inv(self.w)

    return Inverse()


def _fn_module(fn: Callable[..., Any]) -> "torch.nn.Module":
    import torch

    class Fn(torch.nn.Module):
        def forward(self, *args):
            out = fn(*args)
            # The probe is about the op, not its output's container: a `torch.return_types` namedtuple
            # (topk, sort, max.dim) is returned as a plain tuple, as models that unpack it see it.
            return tuple(out) if isinstance(out, tuple) else out

    return Fn()


def _x(*shape: int, low: float = -2.0, high: float = 2.0, dtype: str = "float32") -> "torch.Tensor":
    import torch

    g = torch.Generator().manual_seed(hash(shape) % 2**31)
    t = torch.rand(*shape, generator=g) * (high - low) + low
    return t.to(getattr(torch, dtype))


def _hand_written() -> list[OneOp]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    probes: list[OneOp] = []

    def fn(name: str, op: str, f: Callable[..., Any], *make: Callable[[], Any],
           conditions: str = "", deterministic: bool = True, match: dict[str, Any] | None = None) -> None:
        probes.append(OneOp(name, op, lambda: (_fn_module(f).eval(), tuple(m() for m in make)),
                            conditions, "nn", deterministic, _with_dtype(match)))

    def layer(name: str, op: str, make_layer: Callable[[], nn.Module], *make: Callable[[], Any],
              conditions: str = "", match: dict[str, Any] | None = None) -> None:
        def build():
            torch.manual_seed(0)
            return make_layer().eval(), tuple(m() for m in make)
        probes.append(OneOp(name, op, build, conditions, "nn", match=_with_dtype(match)))

    img = lambda: _x(1, 3, 8, 8)  # noqa: E731
    img4 = lambda: _x(1, 4, 8, 8)  # noqa: E731
    seq = lambda: _x(2, 5, 8)  # noqa: E731
    vec = lambda: _x(2, 3, 4, 5)  # noqa: E731
    pos = lambda: _x(2, 3, 4, 5, low=0.1, high=3.0)  # noqa: E731

    # Layers
    layer("nn.Conv1d", "aten.conv1d.default", lambda: nn.Conv1d(5, 4, 3, padding=1), seq)
    layer("nn.Conv2d", "aten.conv2d.default", lambda: nn.Conv2d(3, 4, 3, padding=1), img)
    layer("nn.Conv2d[groups]", "aten.conv2d.default", lambda: nn.Conv2d(4, 4, 3, groups=4), img4,
          conditions="depthwise (groups=in_channels)")
    layer("nn.Conv2d[padding=same]", "aten.conv2d.padding",
          lambda: nn.Conv2d(3, 4, 3, padding="same"), img, conditions="padding='same'")
    layer("nn.Conv3d", "aten.conv3d.default", lambda: nn.Conv3d(3, 2, 3, padding=1),
          lambda: _x(1, 3, 4, 6, 6))
    layer("nn.ConvTranspose2d", "aten.conv_transpose2d.input",
          lambda: nn.ConvTranspose2d(3, 4, 3, stride=2), img, match={"args": {"output_padding": [0, 0]}})
    layer("nn.ConvTranspose2d[output_padding]", "aten.conv_transpose2d.input",
          lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), img,
          conditions="output_padding=1", match={"args": {"output_padding": [1, 1]}})
    layer("nn.Linear", "aten.linear.default", lambda: nn.Linear(8, 6), seq)
    layer("nn.BatchNorm2d", "aten.batch_norm.default", lambda: nn.BatchNorm2d(3), img)
    layer("nn.BatchNorm1d", "aten.batch_norm.default", lambda: nn.BatchNorm1d(5), seq)
    layer("nn.LayerNorm", "aten.layer_norm.default", lambda: nn.LayerNorm(8), seq)
    layer("nn.GroupNorm", "aten.group_norm.default", lambda: nn.GroupNorm(2, 4), img4)
    layer("nn.InstanceNorm2d", "aten.instance_norm.default",
          lambda: nn.InstanceNorm2d(3, affine=True), img)
    layer("nn.LSTM", "aten.lstm.input", lambda: nn.LSTM(8, 6, batch_first=True), seq)
    layer("nn.LSTM[bidirectional,2]", "aten.lstm.input",
          lambda: nn.LSTM(8, 6, num_layers=2, bidirectional=True, batch_first=True), seq,
          conditions="num_layers=2, bidirectional=True")
    layer("nn.GRU", "aten.gru.input", lambda: nn.GRU(8, 6, batch_first=True), seq)
    layer("nn.RNN", "aten.rnn_tanh.input", lambda: nn.RNN(8, 6, batch_first=True), seq)
    layer("nn.MultiheadAttention", "aten._native_multi_head_attention.default",
          lambda: nn.MultiheadAttention(8, 2, batch_first=True), seq, seq, seq)
    layer("nn.Embedding", "aten.embedding.default", lambda: nn.Embedding(10, 4),
          lambda: torch.tensor([[1, 2, 3], [4, 5, 9]]))
    layer("nn.PixelShuffle", "aten.pixel_shuffle.default", lambda: nn.PixelShuffle(2), img4)
    layer("nn.PixelUnshuffle", "aten.pixel_unshuffle.default", lambda: nn.PixelUnshuffle(2), img)
    layer("nn.PReLU", "aten.prelu.default", lambda: nn.PReLU(3), img)
    layer("nn.Flatten", "aten.flatten.using_ints", lambda: nn.Flatten(), img)

    # Activations
    for name, op, f in [
        ("F.relu", "aten.relu.default", F.relu), ("F.relu6", "aten.hardtanh.default", F.relu6),
        ("F.hardsigmoid", "aten.hardsigmoid.default", F.hardsigmoid),
        ("F.hardswish", "aten.hardswish.default", F.hardswish),
        ("F.hardtanh", "aten.hardtanh.default", F.hardtanh),
        ("F.mish", "aten.mish.default", F.mish), ("F.selu", "aten.selu.default", F.selu),
        ("F.celu", "aten.celu.default", F.celu), ("F.elu", "aten.elu.default", F.elu),
        ("F.softsign", "aten.softsign.default", F.softsign),
        ("F.softplus", "aten.softplus.default", F.softplus),
        ("F.silu", "aten.silu.default", F.silu), ("F.gelu", "aten.gelu.default", F.gelu),
        ("F.leaky_relu", "aten.leaky_relu.default", F.leaky_relu),
        ("F.logsigmoid", "aten.log_sigmoid.default", F.logsigmoid),
        ("F.tanhshrink", "aten.tanhshrink.default", F.tanhshrink),
        ("F.hardshrink", "aten.hardshrink.default", F.hardshrink),
        ("F.softshrink", "aten.softshrink.default", F.softshrink),
        ("torch.sigmoid", "aten.sigmoid.default", torch.sigmoid),
        ("torch.tanh", "aten.tanh.default", torch.tanh),
        ("F.softmax", "aten.softmax.int", lambda x: F.softmax(x, dim=-1)),
        ("F.log_softmax", "aten.log_softmax.int", lambda x: F.log_softmax(x, dim=-1)),
    ]:
        fn(name, op, f, vec, match=_ACTIVATION_MATCH.get(name))
    fn("F.glu", "aten.glu.default", lambda x: F.glu(x, dim=-1), lambda: _x(2, 6))
    fn("F.gelu[tanh]", "aten.gelu.default", lambda x: F.gelu(x, approximate="tanh"), vec,
       conditions="approximate='tanh'", match={"args": {"approximate": "tanh"}})
    fn("F.normalize", "aten.linalg_vector_norm.default", lambda x: F.normalize(x, dim=1), vec)
    fn("F.dropout[eval]", "aten.dropout.default", lambda x: F.dropout(x, 0.5, training=False), vec)

    # Resampling
    for mode, op, aligned in [
        ("nearest", "aten.upsample_nearest2d.vec", None),
        ("bilinear", "aten.upsample_bilinear2d.vec", False),
        ("bicubic", "aten.upsample_bicubic2d.vec", False),
    ]:
        fn(f"F.interpolate[{mode}]", op,
           lambda x, m=mode, a=aligned: F.interpolate(x, scale_factor=2, mode=m, align_corners=a),
           img, conditions=f"mode='{mode}', scale_factor=2",
           match={"given": {"output_size": False},
                  **({"args": {"align_corners": aligned}} if aligned is not None else {})})
    fn("F.interpolate[bilinear,align_corners]", "aten.upsample_bilinear2d.vec",
       lambda x: F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=True), img,
       conditions="mode='bilinear', align_corners=True, size given",
       match={"given": {"output_size": True}, "args": {"align_corners": True}})
    fn("F.interpolate[bilinear,size]", "aten.upsample_bilinear2d.vec",
       lambda x: F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=False), img,
       conditions="mode='bilinear', align_corners=False, size given",
       match={"given": {"output_size": True}, "args": {"align_corners": False}})
    fn("F.interpolate[bilinear,scale,align_corners]", "aten.upsample_bilinear2d.vec",
       lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True), img,
       conditions="mode='bilinear', align_corners=True, scale_factor=2",
       match={"given": {"output_size": False}, "args": {"align_corners": True}})
    fn("F.interpolate[nearest,size]", "aten.upsample_nearest2d.vec",
       lambda x: F.interpolate(x, size=(5, 7), mode="nearest"), img,
       conditions="mode='nearest', size given", match={"given": {"output_size": True}})
    for mode in ("bilinear", "bicubic"):
        fn(f"F.interpolate[{mode},antialias]", f"aten._upsample_{mode}2d_aa.vec",
           lambda x, m=mode: F.interpolate(x, size=(4, 4), mode=m, antialias=True), img,
           conditions=f"mode='{mode}', antialias=True")
    fn("F.interpolate[nearest,1d]", "aten.upsample_nearest1d.vec",
       lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), seq)
    fn("F.interpolate[trilinear]", "aten.upsample_trilinear3d.vec",
       lambda x: F.interpolate(x, scale_factor=2, mode="trilinear"), lambda: _x(1, 2, 3, 4, 4))
    grid = lambda: _x(1, 5, 5, 2, low=-1.0, high=1.0)  # noqa: E731
    for mode in ("bilinear", "nearest", "bicubic"):
        fn(f"F.grid_sample[{mode}]", "aten.grid_sampler.default",
           lambda x, g, m=mode: F.grid_sample(x, g, mode=m, align_corners=False), img, grid,
           conditions=f"mode='{mode}'",
           match={"args": {"interpolation_mode": ("bilinear", "nearest", "bicubic").index(mode)}})
    fn("F.affine_grid", "aten.affine_grid_generator.default",
       lambda t: F.affine_grid(t, [1, 3, 5, 5], align_corners=False), lambda: _x(1, 2, 3),
       conditions="its grid returned", match={"users": {"grid_sampler": False}})
    fn("F.affine_grid+grid_sample", "aten.affine_grid_generator.default",  # a spatial transformer: theta from x
       lambda x: F.grid_sample(x, F.affine_grid(x.flatten(1)[:, :6].view(-1, 2, 3), [1, 3, 5, 5],
                                                align_corners=False), align_corners=False),
       img, conditions="its grid read by grid_sample", match={"users": {"grid_sampler": True}})

    # Padding
    for mode in ("constant", "reflect", "replicate", "circular"):
        fn(f"F.pad[{mode}]", "aten.pad.default", lambda x, m=mode: F.pad(x, (1, 2, 2, 1), mode=m),
           img, conditions=f"mode='{mode}'", match={"args": {"mode": mode}})
    layer("nn.ZeroPad2d", "aten.constant_pad_nd.default", lambda: nn.ZeroPad2d(1), img)

    # Pooling
    fn("F.max_pool2d", "aten.max_pool2d.default", lambda x: F.max_pool2d(x, 2), img,
       conditions="no stride given", match={"given": {"stride": False}})
    fn("F.max_pool2d[stride]", "aten.max_pool2d.default", lambda x: F.max_pool2d(x, 2, 2), img,
       conditions="stride given", match={"given": {"stride": True}, "args": {"ceil_mode": False}})
    fn("F.max_pool2d[ceil]", "aten.max_pool2d.default",
       lambda x: F.max_pool2d(x, 3, 2, ceil_mode=True), img, conditions="stride given, ceil_mode=True",
       match={"given": {"stride": True}, "args": {"ceil_mode": True}})
    fn("F.max_pool1d", "aten.max_pool1d.default", lambda x: F.max_pool1d(x, 2), seq)
    fn("F.avg_pool2d", "aten.avg_pool2d.default", lambda x: F.avg_pool2d(x, 2), img)
    fn("F.avg_pool2d[size]", "aten.avg_pool2d.default", lambda x: F.avg_pool2d(x, x.size()[2:]),
       img, conditions="kernel = x.size()[2:] (global, frozen at trace time)")
    fn("F.avg_pool1d", "aten.avg_pool1d.default", lambda x: F.avg_pool1d(x, 2), seq)
    fn("F.adaptive_avg_pool2d[1]", "aten.adaptive_avg_pool2d.default",
       lambda x: F.adaptive_avg_pool2d(x, 1), img, conditions="output_size=1",
       match={"args": {"output_size": [1, 1]}})
    fn("F.adaptive_avg_pool2d[3]", "aten.adaptive_avg_pool2d.default",
       lambda x: F.adaptive_avg_pool2d(x, 3), img,
       conditions="output_size=3, not a factor of the input size 8", match={"args": {"output_size": [3, 3]}})
    fn("F.adaptive_avg_pool2d[4]", "aten.adaptive_avg_pool2d.default",
       lambda x: F.adaptive_avg_pool2d(x, 4), img, conditions="output_size=4, a factor of 8",
       match={"args": {"output_size": [4, 4]}})
    fn("F.adaptive_max_pool2d[1]", "aten.adaptive_max_pool2d.default",
       lambda x: F.adaptive_max_pool2d(x, 1), img)
    fn("F.adaptive_avg_pool1d", "aten.adaptive_avg_pool1d.default",
       lambda x: F.adaptive_avg_pool1d(x, 1), seq, conditions="output_size=1",
       match={"args": {"output_size": [1]}})
    fn("F.lp_pool2d", "aten.pow.Tensor_Scalar", lambda x: F.lp_pool2d(x, 2, 2), img)

    # Attention, matmul family
    fn("F.scaled_dot_product_attention", "aten.scaled_dot_product_attention.default",
       F.scaled_dot_product_attention, lambda: _x(1, 2, 5, 8), lambda: _x(1, 2, 5, 8),
       lambda: _x(1, 2, 5, 8))
    fn("F.scaled_dot_product_attention[causal]", "aten.scaled_dot_product_attention.default",
       lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
       lambda: _x(1, 2, 5, 8), lambda: _x(1, 2, 5, 8), lambda: _x(1, 2, 5, 8),
       conditions="is_causal=True")
    fn("torch.matmul", "aten.matmul.default", torch.matmul, lambda: _x(2, 3, 4), lambda: _x(2, 4, 5))
    fn("torch.bmm", "aten.bmm.default", torch.bmm, lambda: _x(2, 3, 4), lambda: _x(2, 4, 5))
    fn("torch.einsum", "aten.einsum.default", lambda a, b: torch.einsum("bij,bjk->bik", a, b),
       lambda: _x(2, 3, 4), lambda: _x(2, 4, 5))
    fn("torch.cdist", "aten.cdist.default", torch.cdist, lambda: _x(2, 5, 3), lambda: _x(2, 4, 3))
    fn("torch.cross", "aten.linalg_cross.default", lambda a, b: torch.linalg.cross(a, b),
       lambda: _x(4, 3), lambda: _x(4, 3))

    # Reductions, scans, sorting
    f32, f64 = {"inputs": {"0": {"dtype": "float32"}}}, {"inputs": {"0": {"dtype": "float64"}}}
    vec64 = lambda: _x(2, 3, 4, 5, dtype="float64")  # noqa: E731
    for name, op, f in [
        ("torch.mean[dim]", "aten.mean.dim", lambda x: x.mean(dim=1)),
        ("torch.mean", "aten.mean.default", lambda x: x.mean()),
        ("torch.sum[dim]", "aten.sum.dim_IntList", lambda x: x.sum(dim=1)),
        ("torch.sum", "aten.sum.default", lambda x: x.sum()),
        ("torch.cumsum", "aten.cumsum.default", lambda x: torch.cumsum(x, dim=1)),
    ]:
        fn(name, op, f, vec, conditions="float32 input", match=f32)
        fn(name.replace("]", ",float64]") if "[" in name else f"{name}[float64]", op, f, vec64,
           conditions="float64 input", match=f64)
    for dtype, make in [("int64", lambda: torch.randint(0, 5, (2, 3, 4, 5), generator=torch.Generator().manual_seed(2))),
                        ("bool", lambda: _x(2, 3, 4, 5) > 0)]:
        fn(f"torch.sum[dim,{dtype}]", "aten.sum.dim_IntList", lambda x: x.sum(dim=1), make,
           conditions=f"{dtype} input (counting)", match={"inputs": {"0": {"dtype": dtype}}})
    fn("torch.amax", "aten.amax.default", lambda x: x.amax(dim=1), vec, conditions="dim given",
       match={"given": {"dim": True}, **f32})
    fn("torch.amax[float64]", "aten.amax.default", lambda x: x.amax(dim=1), vec64,
       conditions="dim given, float64 input", match={"given": {"dim": True}, **f64})
    fn("torch.max[dim]", "aten.max.dim", lambda x: x.max(dim=1), vec)
    fn("torch.argmax", "aten.argmax.default", lambda x: x.argmax(dim=1), vec, conditions="dim given",
       match={"given": {"dim": True}})
    fn("torch.prod", "aten.prod.dim_int", lambda x: x.prod(dim=1), vec)
    fn("torch.var", "aten.var.correction", lambda x: x.var(dim=1), vec)
    fn("torch.std", "aten.std.correction", lambda x: x.std(dim=1), vec)
    fn("torch.norm", "aten.linalg_vector_norm.default", lambda x: torch.linalg.vector_norm(x, dim=1),
       vec)
    fn("torch.logsumexp", "aten.logsumexp.default", lambda x: torch.logsumexp(x, dim=1), vec)
    fn("torch.cumprod", "aten.cumprod.default", lambda x: torch.cumprod(x, dim=1), vec)
    # The schema-filled squeeze.dim squeezes a dim of size 3 (a no-op); models squeeze a dim of size 1.
    fn("torch.squeeze[size-1 dim]", "aten.squeeze.dim", lambda x: torch.squeeze(x, 1), lambda: _x(2, 1, 4, 5),
       conditions="the dim has size 1")
    fn("torch.topk", "aten.topk.default", lambda x: torch.topk(x, 2, dim=-1), vec,
       conditions="largest=True", match={"args": {"largest": True}})
    fn("torch.topk[smallest]", "aten.topk.default", lambda x: torch.topk(x, 2, dim=-1, largest=False),
       vec, conditions="largest=False", match={"args": {"largest": False}})
    fn("torch.sort", "aten.sort.default", lambda x: torch.sort(x, dim=-1), vec,
       conditions="descending=False", match={"args": {"descending": False}})
    fn("torch.sort[descending]", "aten.sort.default", lambda x: torch.sort(x, dim=-1, descending=True),
       vec, conditions="descending=True", match={"args": {"descending": True}})
    fn("torch.argsort", "aten.argsort.default", lambda x: torch.argsort(x, dim=-1), vec)
    fn("torch.diff", "aten.diff.default", lambda x: torch.diff(x, dim=-1), vec)
    fn("torch.nonzero", "aten.nonzero.default", torch.nonzero,
       lambda: torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]]))
    fn("torch.unique", "aten._unique2.default", lambda x: torch.unique(x),
       lambda: torch.tensor([3.0, 1.0, 2.0, 3.0, 1.0]))

    # Elementwise math that matter for the spot checks and user models
    for name, op, f, make in [
        ("torch.acosh", "aten.acosh.default", torch.acosh, lambda: _x(2, 3, low=1.1, high=4.0)),
        ("torch.asinh", "aten.asinh.default", torch.asinh, vec),
        ("torch.atanh", "aten.atanh.default", torch.atanh, lambda: _x(2, 3, low=-0.9, high=0.9)),
        ("torch.erf", "aten.erf.default", torch.erf, vec),
        ("torch.sqrt", "aten.sqrt.default", torch.sqrt, pos),
        ("torch.rsqrt", "aten.rsqrt.default", torch.rsqrt, pos),
        ("torch.log", "aten.log.default", torch.log, pos),
        ("torch.exp", "aten.exp.default", torch.exp, vec),
        ("torch.abs", "aten.abs.default", torch.abs, vec),
        ("torch.trunc", "aten.trunc.default", torch.trunc, vec),
        ("torch.round", "aten.round.default", torch.round, vec),
        ("torch.isinf", "aten.isinf.default", torch.isinf, vec),
        ("torch.isnan", "aten.isnan.default", torch.isnan, vec),
        ("torch.sign", "aten.sign.default", torch.sign, vec),
        ("torch.reciprocal", "aten.reciprocal.default", torch.reciprocal, pos),
    ]:
        fn(name, op, f, make)
    fn("torch.clamp", "aten.clamp.default", lambda x: torch.clamp(x, -0.5, 0.5), vec)
    fn("torch.where", "aten.where.self", lambda c, x: torch.where(c > 0, x, -x), vec, vec)
    fn("torch.pow", "aten.pow.Tensor_Scalar", lambda x: x ** 2, vec)
    fn("torch.floor_divide", "aten.floor_divide.default", lambda a, b: a // b,
       lambda: _x(3, 4, low=1, high=9), lambda: _x(3, 4, low=1, high=3))
    fn("torch.remainder", "aten.remainder.Tensor", lambda a, b: a % b,
       lambda: _x(3, 4, low=1, high=9), lambda: _x(3, 4, low=1, high=3))
    fn("torch.bitwise_or", "aten.bitwise_or.Tensor", torch.bitwise_or,
       lambda: torch.tensor([1, 2, 4]), lambda: torch.tensor([3, 1, 4]))
    fn("torch.tril", "aten.tril.default", torch.tril, lambda: _x(4, 4))
    fn("torch.triu", "aten.triu.default", torch.triu, lambda: _x(4, 4))

    # Shapes and indexing
    fn("Tensor.view[flatten]", "aten.view.default", lambda x: x.view(x.size(0), -1), img,
       conditions="x.view(x.size(0), -1)")
    fn("Tensor.reshape", "aten.reshape.default", lambda x: x.reshape(2, -1), vec)
    fn("Tensor.permute", "aten.permute.default", lambda x: x.permute(0, 2, 3, 1), vec)
    fn("Tensor.transpose", "aten.transpose.int", lambda x: x.transpose(1, 2), vec)
    fn("torch.cat", "aten.cat.default", lambda a, b: torch.cat([a, b], dim=1), vec, vec)
    fn("torch.stack", "aten.stack.default", lambda a, b: torch.stack([a, b], dim=1), vec, vec)
    fn("torch.chunk", "aten.chunk.default", lambda x: torch.chunk(x, 2, dim=-1), lambda: _x(2, 6))
    fn("torch.split", "aten.split.Tensor", lambda x: torch.split(x, 2, dim=-1), lambda: _x(2, 6))
    fn("Tensor.expand", "aten.expand.default", lambda x: x.expand(4, 3, 5), lambda: _x(1, 3, 5))
    fn("Tensor.repeat", "aten.repeat.default", lambda x: x.repeat(2, 1), lambda: _x(2, 3))
    fn("torch.roll", "aten.roll.default", lambda x: torch.roll(x, 1, dims=1), lambda: _x(2, 5))
    fn("torch.flip", "aten.flip.default", lambda x: torch.flip(x, dims=[1]), lambda: _x(2, 5))
    fn("torch.gather", "aten.gather.default", lambda x, i: torch.gather(x, 1, i), lambda: _x(3, 4),
       lambda: torch.tensor([[0, 1], [2, 3], [1, 0]]))
    fn("Tensor.index_select", "aten.index_select.default",
       lambda x, i: x.index_select(1, i), lambda: _x(3, 4), lambda: torch.tensor([0, 2]))
    fn("Tensor.__getitem__[tensor]", "aten.index.Tensor", lambda x, i: x[i], lambda: _x(5, 3),
       lambda: torch.tensor([0, 4, 2]), conditions="integer index tensor",
       match={"inputs": {"1": {"dtype": "int64"}}})
    fn("Tensor.__getitem__[mask]", "aten.index.Tensor", lambda x, m: x[m], lambda: _x(5, 3),
       lambda: _x(5, 3) > 0, conditions="boolean mask index", match={"inputs": {"1": {"dtype": "bool"}}})
    fn("Tensor.__getitem__[slice]", "aten.slice.Tensor", lambda x: x[:, 1:3], lambda: _x(3, 5))
    fn("Tensor.masked_fill", "aten.masked_fill.Scalar", lambda x: x.masked_fill(x > 0, 0.0), vec)
    fn("Tensor.scatter", "aten.scatter.src", lambda x, i, s: x.scatter(1, i, s), lambda: _x(3, 4),
       lambda: torch.tensor([[0, 1], [2, 3], [1, 0]]), lambda: _x(3, 2))
    fn("Tensor.index_put", "aten.index_put.default",
       lambda x, v: x.index_put((torch.tensor([0, 2]),), v), lambda: _x(3, 4), lambda: _x(4))
    fn("torch.arange", "aten.arange.start_step", lambda x: x + torch.arange(0, 5, 1), lambda: _x(2, 5))
    fn("torch.zeros_like", "aten.zeros_like.default", lambda x: torch.zeros_like(x) + x, vec)
    fn("torch.full", "aten.full.default", lambda x: x + torch.full((2, 5), 3.0), lambda: _x(2, 5))
    fn("Tensor.to[dtype, device]", "aten.to.device", lambda x: x + (x > 0).to(dtype=torch.float32, device=x.device),
       vec)
    fn("Tensor.to[device]", "aten.to.dtype_layout", lambda x: x.to(x.device) * 2, vec)
    fn("Tensor.T", "aten.numpy_T.default", lambda x: x.T * 2, lambda: _x(3, 4))
    fn("F.dropout[eval, inplace]", "aten.dropout_.default", lambda x: F.dropout(x * 2, 0.1, False, True), vec)
    # `~` of a boolean mask (DeBERTa's `masked_fill(~mask, ...)`): a logical not, where an integer's is bitwise
    fn("Tensor.__invert__[bool]", "aten.bitwise_not.default", lambda x: x.masked_fill(~(x > 0), 0.0), vec,
       match={"inputs": {"0": {"dtype": "bool"}}})
    fn("Tensor.to[float64]", "aten._to_copy.default", lambda x: x.to(torch.float64), vec)
    fn("Tensor.to[int64]", "aten._to_copy.default", lambda x: x.to(torch.int64), vec)
    fn("torch.rand_like", "aten.rand_like.default", lambda x: x + torch.rand_like(x), vec,
       deterministic=False)
    # Core ATen ops whose schema the generic filler cannot satisfy
    aten = torch.ops.aten
    mat = lambda: _x(3, 4)  # noqa: E731
    vol = lambda: _x(1, 2, 4, 4, 4)  # noqa: E731
    for op, f, make in [
        (aten.mm.default, aten.mm.default, (mat, lambda: _x(4, 5))),
        (aten.addmm.default, aten.addmm.default, (lambda: _x(5), mat, lambda: _x(4, 5))),
        (aten.bmm.default, aten.bmm.default, (lambda: _x(2, 3, 4), lambda: _x(2, 4, 5))),
        (aten.convolution.default,
         lambda x, w: aten.convolution.default(x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1),
         (img, lambda: _x(4, 3, 3, 3))),
        (aten.native_layer_norm.default,
         lambda x: aten.native_layer_norm.default(x, [8], None, None, 1e-5), (seq,)),
        (aten.native_group_norm.default,
         lambda x: aten.native_group_norm.default(x, None, None, 1, 4, 64, 2, 1e-5), (img4,)),
        (aten._native_batch_norm_legit_no_training.default,
         lambda x, m, v: aten._native_batch_norm_legit_no_training.default(x, None, None, m, v, 0.1,
                                                                           1e-5),
         (img, lambda: _x(3), lambda: _x(3, low=0.5, high=2.0))),
        (aten._softmax.default, lambda x: aten._softmax.default(x, -1, False), (vec,)),
        (aten._log_softmax.default, lambda x: aten._log_softmax.default(x, -1, False), (vec,)),
        (aten.mean.dim, lambda x: aten.mean.dim(x, [1]), (vec,)),
        (aten.sum.dim_IntList, lambda x: aten.sum.dim_IntList(x, [1]), (vec,)),
        (aten.clamp.default, lambda x: aten.clamp.default(x, -0.5, 0.5), (vec,)),
        (aten.clamp.Tensor, lambda x, a, b: aten.clamp.Tensor(x, a, b), (vec, lambda: _x(5) - 1,
                                                                         lambda: _x(5) + 1)),
        (aten.permute.default, lambda x: aten.permute.default(x, [0, 2, 3, 1]), (vec,)),
        (aten.repeat.default, lambda x: aten.repeat.default(x, [2, 1]), (mat,)),
        (aten.expand.default, lambda x: aten.expand.default(x, [4, 3, 5]), (lambda: _x(1, 3, 5),)),
        (aten.constant_pad_nd.default, lambda x: aten.constant_pad_nd.default(x, [1, 2], 0.5), (img,)),
        (aten.reflection_pad2d.default, lambda x: aten.reflection_pad2d.default(x, [1, 1, 2, 2]),
         (img,)),
        (aten.reflection_pad1d.default, lambda x: aten.reflection_pad1d.default(x, [1, 2]), (seq,)),
        (aten.replication_pad2d.default, lambda x: aten.replication_pad2d.default(x, [1, 1, 2, 2]),
         (img,)),
        (aten.avg_pool2d.default, lambda x: aten.avg_pool2d.default(x, [2, 2]), (img,)),
        (aten.avg_pool1d.default, lambda x: aten.avg_pool1d.default(x, [2]), (seq,)),
        (aten.max_pool2d_with_indices.default,
         lambda x: aten.max_pool2d_with_indices.default(x, [2, 2]), (img,)),
        (aten._adaptive_avg_pool2d.default, lambda x: aten._adaptive_avg_pool2d.default(x, [2, 2]),
         (img,)),
        (aten.adaptive_avg_pool1d.default, lambda x: aten.adaptive_avg_pool1d.default(x, [2]), (seq,)),
        (aten.upsample_nearest2d.vec, lambda x: aten.upsample_nearest2d.vec(x, [16, 16], None),
         (img,)),
        (aten.upsample_bilinear2d.vec,
         lambda x: aten.upsample_bilinear2d.vec(x, [16, 16], False, None), (img,)),
        (aten.grid_sampler_2d.default, lambda x, g: aten.grid_sampler_2d.default(x, g, 0, 0, False),
         (img, grid)),
        (aten._cdist_forward.default, lambda a, b: aten._cdist_forward.default(a, b, 2.0, None),
         (lambda: _x(2, 5, 3), lambda: _x(2, 4, 3))),
        (aten.embedding.default, aten.embedding.default,
         (lambda: _x(10, 4), lambda: torch.tensor([[1, 2], [3, 9]]))),
        (aten.index_select.default, lambda x, i: aten.index_select.default(x, 1, i),
         (mat, lambda: torch.tensor([0, 2]))),
        (aten.gather.default, lambda x, i: aten.gather.default(x, 1, i),
         (mat, lambda: torch.tensor([[0, 1], [2, 3], [1, 0]]))),
        (aten.scatter.src, lambda x, i, s: aten.scatter.src(x, 1, i, s),
         (mat, lambda: torch.tensor([[0, 1], [2, 3], [1, 0]]), lambda: _x(3, 2))),
        (aten.scatter_add.default, lambda x, i, s: aten.scatter_add.default(x, 1, i, s),
         (mat, lambda: torch.tensor([[0, 1], [2, 3], [1, 0]]), lambda: _x(3, 2))),
        (aten.index.Tensor, lambda x, i: aten.index.Tensor(x, [i]), (mat, lambda: torch.tensor([0, 2]))),
        (aten.split_with_sizes.default, lambda x: aten.split_with_sizes.default(x, [1, 3], 1),
         (mat,)),
        (aten.full.default, lambda x: x + aten.full.default([3, 4], 2.0), (mat,)),
        (aten.arange.start_step, lambda x: x + aten.arange.start_step(0, 4, 1), (mat,)),
        (aten._to_copy.default, lambda x: aten._to_copy.default(x, dtype=torch.float16), (mat,)),
        (aten._adaptive_avg_pool3d.default,
         lambda x: aten._adaptive_avg_pool3d.default(x, [2, 2, 2]), (vol,)),
        (aten.avg_pool3d.default, lambda x: aten.avg_pool3d.default(x, [2, 2, 2]), (vol,)),
        (aten.max_pool3d_with_indices.default,
         lambda x: aten.max_pool3d_with_indices.default(x, [2, 2, 2]), (vol,)),
        (aten.reflection_pad3d.default, lambda x: aten.reflection_pad3d.default(x, [1] * 6), (vol,)),
        (aten.replication_pad3d.default, lambda x: aten.replication_pad3d.default(x, [1] * 6), (vol,)),
        (aten._embedding_bag.default,
         lambda w, i, o: aten._embedding_bag.default(w, i, o, False, 1)[0],
         (lambda: _x(10, 4), lambda: torch.tensor([1, 2, 4, 5, 4, 3]), lambda: torch.tensor([0, 3]))),
        # rfft/irfft as torch.export writes them after run_decompositions (what converters receive)
        (aten._fft_r2c.default,
         lambda x: torch.view_as_real(aten._fft_r2c.default(x, [1], 0, True)), (lambda: _x(2, 8),)),
        (aten._fft_c2r.default,
         lambda x: aten._fft_c2r.default(aten._fft_r2c.default(x, [1], 0, True), [1], 0, 8),
         (lambda: _x(2, 8),)),
        # batch_norm in training mode after run_decompositions (fresh running stats: no input mutation)
        (aten._native_batch_norm_legit.default,
         lambda x: aten._native_batch_norm_legit.default(x, None, None, torch.zeros(3), torch.ones(3),
                                                         True, 0.1, 1e-5)[0], (img,)),
        (aten._native_batch_norm_legit.no_stats,
         lambda x: aten._native_batch_norm_legit.no_stats(x, None, None, True, 0.1, 1e-5)[0], (img,)),
        (aten._pdist_forward.default, lambda x: aten._pdist_forward.default(x, 2.0),
         (lambda: _x(5, 3),)),
        (aten.div.Scalar_mode, lambda x: aten.div.Scalar_mode(x, 0.7, rounding_mode="floor"), (mat,)),
    ]:
        probes.append(OneOp(str(op), str(op), lambda f=f, make=make: (
            _fn_module(f).eval(), tuple(m() for m in make)), "", "core"))

    # Core ATen ops (and ops of the examples' and tests' models) reached through PyTorch calls
    idx = lambda: torch.tensor([[0, 1], [2, 3], [1, 0]])  # noqa: E731
    fn("F.adaptive_avg_pool3d", "aten.adaptive_avg_pool3d.default",
       lambda x: F.adaptive_avg_pool3d(x, 2), vol)
    fn("F.avg_pool3d", "aten.avg_pool3d.default", lambda x: F.avg_pool3d(x, 2), vol)
    fn("F.max_pool3d", "aten.max_pool3d.default", lambda x: F.max_pool3d(x, 2), vol)
    fn("F.embedding_bag", "aten.embedding_bag.padding_idx",
       lambda w, i, o: F.embedding_bag(i, w, o, mode="mean"), lambda: _x(10, 4),
       lambda: torch.tensor([1, 2, 4, 5, 4, 3]), lambda: torch.tensor([0, 3]))
    fn("torch.fft.rfft", "aten.fft_rfft.default", lambda x: torch.view_as_real(torch.fft.rfft(x)),
       lambda: _x(2, 8))
    fn("torch.fft.irfft", "aten.fft_irfft.default", lambda x: torch.fft.irfft(torch.fft.rfft(x), n=8),
       lambda: _x(2, 8))
    fn("F.pdist", "aten.pdist.default", F.pdist, lambda: _x(5, 3))
    fn("F.fold", "aten.col2im.default", lambda x: F.fold(x, (4, 5), (2, 2)), lambda: _x(1, 12, 12))
    fn("Tensor.as_strided", "aten.as_strided.default", lambda x: x.as_strided((3, 2), (1, 3)),
       lambda: _x(3, 4))
    fn("Tensor.resize_", "aten.resize_.default", lambda x: (x * 1).resize_(2, 6), lambda: _x(3, 4))
    fn("torch.atan2[out]", "aten.atan2.out", lambda a, b: torch.atan2(a, b, out=torch.empty(3, 4)),
       lambda: _x(3, 4), lambda: _x(3, 4, low=0.5, high=2.0))
    fn("torch.div[floor]", "aten.div.Tensor_mode", lambda a, b: torch.div(a, b, rounding_mode="floor"),
       lambda: _x(3, 4), lambda: _x(3, 4, low=0.5, high=2.0), conditions="rounding_mode='floor'",
       match={"args": {"rounding_mode": "floor"}})
    # a Python number as the divisor (XCiT's `torch.div(arange, 2, rounding_mode="floor")`) is another form
    fn("torch.div[floor, scalar]", "aten.div.Tensor_mode", lambda a: torch.div(a, 2, rounding_mode="floor"),
       lambda: _x(3, 4), conditions="rounding_mode='floor', a Python number as the divisor",
       match={"args": {"rounding_mode": "floor"}, "given": {"other": True}})
    fn("torch.div[trunc]", "aten.div.Tensor_mode", lambda a, b: torch.div(a, b, rounding_mode="trunc"),
       lambda: _x(3, 4), lambda: _x(3, 4, low=0.5, high=2.0), conditions="rounding_mode='trunc'",
       match={"args": {"rounding_mode": "trunc"}})
    fn("torch.div[None]", "aten.div.Tensor_mode", lambda a, b: torch.div(a, b, rounding_mode=None),
       lambda: _x(3, 4), lambda: _x(3, 4, low=0.5, high=2.0), conditions="rounding_mode=None",
       match={"args": {"rounding_mode": None}})
    # linalg_inv: converters that only fold constants invert a parameter, not a computed tensor
    layer("torch.linalg.inv[param]", "aten.linalg_inv.default", lambda: _Inverse(), lambda: _x(2, 3),
          conditions="inverse of a parameter", match={"inputs": {"0": {"const": True}}})
    fn("torch.linalg.inv[input]", "aten.linalg_inv.default", torch.linalg.inv,
       lambda: _x(3, 3, low=0.0, high=0.3) + 2 * torch.eye(3), conditions="inverse of a computed tensor",
       match={"inputs": {"0": {"const": False}}})
    fn("Tensor.masked_scatter", "aten.masked_scatter.default", lambda x, s: x.masked_scatter(x > 0, s),
       lambda: _x(3, 4), lambda: _x(12))
    fn("Tensor.scatter[value]", "aten.scatter.value", lambda x, i: x.scatter(1, i, 2.0),
       lambda: _x(3, 4), idx)
    for reduce in ("amax", "amin", "sum", "prod", "mean"):
        fn("Tensor.scatter_reduce" + ("" if reduce == "amax" else f"[{reduce}]"), "aten.scatter_reduce.two",
           lambda x, i, s, r=reduce: x.scatter_reduce(1, i, s, r), lambda: _x(3, 4), idx, lambda: _x(3, 2),
           conditions=f"reduce='{reduce}'", match={"args": {"reduce": reduce}})
    # in-place ops on a copy, `x * 1.0`: an integer scalar alone fails litert-torch's PT2E calibration
    # (HistogramObserver on the int64 tensor its `_convert_scalars_to_attrs` makes)
    fn("Tensor.scatter_", "aten.scatter_.src", lambda x, i, s: (x * 1.0).scatter_(1, i, s),
       lambda: _x(3, 4), idx, lambda: _x(3, 2))
    fn("torch.select_scatter", "aten.select_scatter.default",
       lambda x, s: torch.select_scatter(x, s, 0, 1), lambda: _x(3, 4), lambda: _x(4))
    fn("torch.scalar_tensor", "aten.scalar_tensor.default", lambda x: x + torch.scalar_tensor(2.0),
       lambda: _x(3, 4))
    fn("Tensor.add_", "aten.add_.Tensor", lambda x, y: (x * 1.0).add_(y), lambda: _x(3, 4),
       lambda: _x(3, 4))
    fn("Tensor.mul_", "aten.mul_.Tensor", lambda x: (x * 1.0).mul_(2.0), lambda: _x(3, 4))
    fn("torch.arange[end]", "aten.arange.default", lambda x: x + torch.arange(4), lambda: _x(3, 4))
    fn("Tensor.item", "aten.item.default", lambda x, y: x * y.sum().item(), lambda: _x(2, 3),
       lambda: _x(3))
    fn("torch.max", "aten.max.default", lambda x: x.max(), vec)
    fn("torch.where[scalar]", "aten.where.ScalarOther", lambda x: torch.where(x > 0, x, 0.0), vec)
    # Random or uninitialised values: shapes only
    for name, op, f in [
        ("torch.empty", "aten.empty.memory_format", lambda x: x + torch.empty(3, 4)),
        ("torch.empty_strided", "aten.empty_strided.default",
         lambda x: x + torch.empty_strided((3, 4), (4, 1))),
        ("torch.empty_like", "aten.empty_like.default", lambda x: x + torch.empty_like(x)),
        ("torch.rand", "aten.rand.default", lambda x: x + torch.rand(3, 4)),
        ("torch.randn", "aten.randn.default", lambda x: x + torch.randn(3, 4)),
        ("torch.randperm", "aten.randperm.default", lambda x: x[torch.randperm(3)]),
    ]:
        fn(name, op, f, lambda: _x(3, 4), deterministic=False)

    # Forms only the TorchScript graph keeps (torch.jit.trace paths: in-place activations, layout
    # and allocation helpers that torch.export functionalises or folds in user models)
    # (after a conv, as in user models: an in-place op on the input itself would mutate the example
    # inputs while the probe traces it, and the outputs compared later would differ)
    for act in ("ReLU", "Hardswish"):
        layer(f"nn.{act}[inplace]", f"aten.{act.lower()}_.default",
              lambda a=act: nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), getattr(nn, a)(inplace=True)),
              img, conditions="inplace=True, after a conv")
    # The patterns quantizers fuse (conv-bn-relu, linear-relu), as models write them: what the one-op
    # probes of relu and batch_norm cannot show
    layer("nn.Conv2d+BatchNorm2d+ReLU", "aten.relu.default",
          lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()), img,
          conditions="after conv2d and batch_norm (the conv-bn-relu pattern)")
    layer("nn.Linear+ReLU", "aten.relu.default", lambda: nn.Sequential(nn.Linear(8, 6), nn.ReLU()), seq,
          conditions="after linear (the linear-relu pattern)")
    class Addmm(nn.Module):  # GPT-2's Conv1D: addmm of a parameter weight (quantizers take only that form)
        def __init__(self):
            super().__init__()
            self.weight, self.bias = nn.Parameter(torch.randn(8, 6)), nn.Parameter(torch.randn(6))

        def forward(self, x):
            return torch.addmm(self.bias, x, self.weight)

    layer("torch.addmm[parameter]", "aten.addmm.default", Addmm, lambda: _x(4, 8),
          conditions="a parameter weight (GPT-2's Conv1D)", match={"inputs": {"2": {"const": True}}})
    class PackedLSTM(nn.Module):  # the pair the TorchScript exporter needs around an RNN
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(8, 6, batch_first=True)

        def forward(self, x):
            packed = nn.utils.rnn.pack_padded_sequence(x, torch.tensor([5, 3]), batch_first=True)
            return nn.utils.rnn.pad_packed_sequence(self.lstm(packed)[0], batch_first=True)[0]

    layer("nn.LSTM[packed]", "aten._pack_padded_sequence.default", PackedLSTM, seq,
          conditions="pack_padded_sequence -> LSTM -> pad_packed_sequence")
    fn("Tensor.contiguous", "aten.contiguous.default", lambda x: x.transpose(1, 2).contiguous(), vec)
    fn("Tensor.new_ones", "aten.new_ones.default", lambda x: x + x.new_ones(x.shape), vec)
    fn("Tensor.__and__[bool]", "aten.__and__.Tensor", lambda x: ((x > 0) & (x < 1)).float(), vec,
       conditions="boolean operands (masks)")

    fn("pack_padded_sequence", "aten._pack_padded_sequence.default",
       lambda x: nn.utils.rnn.pack_padded_sequence(x, torch.tensor([5, 3]), batch_first=True).data,
       seq)
    return probes


# ---------------------------------------------------------------------------------------------
# Probes generated from core ATen op schemas

# Inputs that must stay in a domain (else NaN on both sides tells nothing).
_DOMAIN = {"acos": (-0.9, 0.9), "asin": (-0.9, 0.9), "atanh": (-0.9, 0.9), "acosh": (1.1, 4.0),
           "log": (0.1, 3.0), "log10": (0.1, 3.0), "log2": (0.1, 3.0), "log1p": (0.1, 3.0),
           "sqrt": (0.1, 3.0), "rsqrt": (0.1, 3.0), "reciprocal": (0.5, 3.0), "pow": (0.5, 2.0),
           "fmod": (1.0, 4.0), "remainder": (1.0, 4.0), "div": (0.5, 3.0), "erfinv": (-0.9, 0.9),
           "logit": (0.1, 0.9)}
_INT_OPS = ("bitwise_", "logical_", "gcd", "lcm", "__and__", "__or__", "__xor__",
            "__lshift__", "__rshift__")
_RANDOM_OPS = ("rand", "normal", "bernoulli", "multinomial", "dropout", "uniform", "exponential",
               "poisson", "randperm")
_SHAPE = (2, 3, 4, 5)


def _fill_argument(arg: Any, op_name: str) -> tuple[str, Any] | None:
    """('tensor', maker) | ('const', value) | ('default', None) for one schema argument; None: give up."""
    import torch

    t = str(arg.type).removeprefix("Optional[").removesuffix("]") if not arg.has_default_value() \
        else str(arg.type)
    if arg.has_default_value():
        return ("default", None)
    if t == "Tensor":
        if any(op_name.startswith(p) for p in _INT_OPS):
            return ("tensor", lambda: torch.randint(0, 8, _SHAPE, generator=torch.Generator().manual_seed(1)))
        low, high = _DOMAIN.get(op_name.rstrip("_"), (-2.0, 2.0))
        return ("tensor", lambda: _x(*_SHAPE, low=low, high=high))
    if t == "List[Tensor]":
        return ("tensor_list", lambda: [_x(*_SHAPE), _x(*_SHAPE, low=0.0)])
    if t in ("int", "SymInt"):
        return ("const", {"dim": 1, "dim0": 1, "dim1": 2}.get(arg.name, 2))
    if t.startswith("List[int"):
        if arg.name == "dims" or op_name == "permute":
            return ("const", [0, 2, 3, 1])
        if arg.name == "dim":
            return ("const", [1])
        if arg.name in ("size", "shape"):
            return ("const", list(_SHAPE))
        return None
    if t == "number":
        return ("const", 2.0 if "bitwise" not in op_name else 3)
    if t == "float":
        return ("const", 0.5)
    if t == "bool":
        return ("const", False)
    return None


def _core_probe(overload: Any) -> OneOp | None:
    """A probe calling `overload` directly with inputs filled from its schema, or None."""
    import torch

    schema = overload._schema
    op_name = schema.name.split("::", 1)[1]
    if schema.is_mutable or any(op_name.startswith(p) for p in ("_", "empty", "new_")):
        return None
    plan = []
    for arg in schema.arguments:
        if arg.kwarg_only and arg.has_default_value():
            continue
        filled = _fill_argument(arg, op_name)
        if filled is None:
            return None
        if filled[0] == "default":
            break  # keep later positional arguments at their defaults too
        plan.append(filled)
    if not any(kind.startswith("tensor") for kind, _ in plan):
        return None

    def build():
        tensors: list[Any] = []
        consts: list[tuple[str, Any]] = []
        for kind, val in plan:
            if kind.startswith("tensor"):
                tensors.append(val())
                consts.append(("input", None))
            else:
                consts.append(("const", val))

        def call(*inputs):
            it = iter(inputs)
            args = [next(it) if kind == "input" else v for kind, v in consts]
            return overload(*args)

        flat = []
        for t in tensors:  # Tensor[] args are passed as separate model inputs
            flat.extend(t if isinstance(t, list) else [t])
        sizes = [len(t) if isinstance(t, list) else None for t in tensors]

        def forward(*inputs):
            grouped, i = [], 0
            for n in sizes:
                grouped.append(list(inputs[i:i + n]) if n else inputs[i])
                i += n or 1
            return call(*grouped)

        return _fn_module(forward).eval(), tuple(flat)

    name = str(overload)
    probe = OneOp(name, name, build, "", "core",
                  deterministic=not any(r in op_name for r in _RANDOM_OPS))
    try:
        module, inputs = probe.build()
        with torch.no_grad():
            out = module(*inputs)
    except Exception:  # the schema-filled call is not valid eager code: no generic probe
        return None
    if not isinstance(out, torch.Tensor) and not (
            isinstance(out, (tuple, list)) and all(isinstance(o, torch.Tensor) for o in out)):
        return None
    return probe


def core_aten_ops() -> list[Any]:
    """Every overload tagged `core` in torch's ATen registry (torch.export's core ATen opset)."""
    import torch

    found = []
    for schema in torch._C._jit_get_all_schemas():
        if not schema.name.startswith("aten::"):
            continue
        packet = getattr(torch.ops.aten, schema.name[6:], None)
        overload = getattr(packet, schema.overload_name or "default", None) if packet else None
        if overload is not None and torch.Tag.core in overload.tags:
            found.append(overload)
    return sorted(set(found), key=str)


@cache
def catalog() -> dict[str, OneOp]:
    import dataclasses
    import warnings

    probes = {p.name: p for p in _hand_written()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for overload in core_aten_ops():
            probe = _core_probe(overload)
            if probe is not None and probe.name not in probes:
                probes[probe.name] = probe
    for name, match in CORE_MATCH.items():
        if name in probes:
            probes[name] = dataclasses.replace(probes[name], match=match)
    return probes


def __getattr__(name: str) -> Any:  # `CATALOG` is built lazily: importing this module stays cheap
    if name == "CATALOG":
        return catalog()
    raise AttributeError(name)
