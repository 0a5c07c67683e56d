"""The captured program run in float16 beside float32 on the example inputs, node by node: a fact of
the capture (`CaptureInfo.fp16`, kept by the capture cache), as the forward passes at doubled sizes
are, and read by EXL602. It runs only when a target computes in float16 and EXL602 is selected.

Float inputs, weights and constant operands are rounded to float16 (attributes such as `eps` are
not); each op computes in float32 from the float16 values and its float outputs are rounded to
float16: what the CPU's float16 kernels do inside, at float32 speed, for every op (some have no
float16 CPU kernel). A value is dropped once its last user has run: memory stays that of two runs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from exportlint.ir import HalfRun

if TYPE_CHECKING:
    from exportlint.options import Options

RULE = "EXL602"  # the rule that reads the run
DRIFT = 0.05  # relative L2 error of an op's output, float16 run against float32 run, reported as drift
_SCALAR_TYPES = ("Scalar", "Tensor", "Optional[Scalar]")  # operands a converter stores as float16 constants


def wanted(options: Options) -> bool:
    return options.enabled(RULE) and any(t.fp16 for t in options.targets)


def half_run(program) -> tuple[HalfRun | None, str | None]:
    """(the run, None), or (None, why it failed): a model the float16 run cannot take is a fact, not a
    failed capture."""
    try:
        return compare_fp16(program), None
    except Exception as exc:  # noqa: BLE001 - reported by EXL602
        from exportlint.decide import first_line

        return None, first_line(exc)


def compare_fp16(program) -> HalfRun:
    """Run `program` on its example inputs in float32 and float16 side by side, op by op; a value is
    dropped once its last user has run."""
    import torch
    from torch.export._tree_utils import reorder_kwargs
    from torch.export.graph_signature import InputKind
    from torch.fx.node import map_arg
    from torch.utils._pytree import tree_leaves

    args, kwargs = program.example_inputs
    user = iter(tree_leaves((args, reorder_kwargs(kwargs, program.call_spec.in_spec))))
    specs = iter(program.graph_signature.input_specs)
    nodes = list(program.graph_module.graph.nodes)
    last = {a: i for i, n in enumerate(nodes) for a in n.all_input_nodes}
    env32: dict[Any, Any] = {}
    env16: dict[Any, Any] = {}
    found = HalfRun()
    with torch.no_grad():
        for i, node in enumerate(nodes):
            if node.op == "placeholder":
                spec = next(specs)
                value = next(user) if spec.kind is InputKind.USER_INPUT else \
                    program.state_dict.get(spec.target, program.constants.get(spec.target))
                env32[node], env16[node] = value, _half(value)
            elif node.op == "call_function":
                a32, k32 = map_arg((node.args, node.kwargs), env32.__getitem__)
                a16, k16 = map_arg((_rounded(node.args, node.target), node.kwargs), env16.__getitem__)
                rng = torch.get_rng_state() if _seeded(node.target) else None
                env32[node] = out32 = node.target(*a32, **k32)
                if rng is not None:
                    torch.set_rng_state(rng)
                try:
                    env16[node] = out16 = _call_half(node.target, a16, k16)
                except RuntimeError:  # the op insists on the float32 run's dtypes (a float64 buffer)
                    env16[node] = out16 = _half(node.target(*_like(a16, a32), **_like(k16, k32)))
                if isinstance(node.target, torch._ops.OpOverload):
                    _compare(found, node.name, out32, out16)
            elif node.op == "output":
                outs = [n for n in tree_leaves(node.args) if isinstance(n, torch.fx.Node)]
                for n in outs:
                    bad, _, rel = _diff(env32[n], env16[n])
                    found.outputs_bad |= bad is not None
                    found.output_drift = max(found.output_drift, rel)
            for a in [*node.all_input_nodes, node]:
                if last.get(a, -1) <= i:
                    env32.pop(a, None)
                    env16.pop(a, None)
    return found


def _like(values, reference):
    """`values` (float16) cast to the dtypes of the float32 run's `reference`, leaf by leaf."""
    import torch
    from torch.utils._pytree import tree_flatten, tree_unflatten

    leaves, spec = tree_flatten(values)
    return tree_unflatten([v.to(r.dtype) if isinstance(v, torch.Tensor) and isinstance(r, torch.Tensor) else v
                           for v, r in zip(leaves, tree_flatten(reference)[0])], spec)


def _half(value):
    import torch
    from torch.utils._pytree import tree_map

    return tree_map(lambda t: t.detach().half() if isinstance(t, torch.Tensor) and t.is_floating_point() else t,
                    value)


def _rounded(args: tuple, target) -> tuple:
    """The arguments with float operands (`Scalar`/`Tensor` in the schema, not attributes such as `eps`)
    rounded to float16, as a converter stores its constants."""
    import torch

    schema = getattr(target, "_schema", None)
    if schema is None:
        return args
    return tuple(float(torch.tensor(a).half()) if isinstance(a, float) and str(s.type) in _SCALAR_TYPES else a
                 for a, s in zip(args, schema.arguments)) + args[len(schema.arguments):]


def _seeded(target) -> bool:
    """A random op: both runs take the same draw."""
    import torch

    return isinstance(target, torch._ops.OpOverload) and torch.Tag.nondeterministic_seeded in target.tags


def _call_half(target, args, kwargs):
    """The op in float32 on the float16 values, its float outputs rounded to float16: what the CPU's
    float16 kernels do (they compute in float32 inside), at float32 speed, for every op (some have no
    float16 kernel). An explicit float32 cast or dtype gives float16 too, as on the device."""
    import torch
    from torch.utils._pytree import tree_map

    up = tree_map(lambda t: t.float() if isinstance(t, torch.Tensor) and t.dtype is torch.half else t, (args, kwargs))
    return _half(target(*up[0], **up[1]))


def _compare(found: HalfRun, name: str, out32, out16) -> None:
    from torch.utils._pytree import tree_leaves

    for ref, half in zip(tree_leaves(out32), tree_leaves(out16)):
        bad, new_nan, rel = _diff(ref, half)
        if bad is not None and found.overflow is None:
            found.overflow = (name, *bad)
        if new_nan and found.first_nan is None:
            found.first_nan = name
        if found.overflow is None and found.drift is None and rel > DRIFT:
            found.drift = (name, rel)


def _diff(ref, half) -> tuple[tuple[str, int, float] | None, bool, float]:
    """((inf|NaN, how many, largest |float32| there) where float16 is not finite but float32 is, or
    None; whether float16 has NaN where float32 has none; the relative L2 error over the elements
    finite in both). Masks, not boolean indexing, where some value is not finite."""
    import torch

    if not (isinstance(ref, torch.Tensor) and ref.is_floating_point() and isinstance(half, torch.Tensor)):
        return None, False, 0.0
    half = half.float()
    # The common path, two passes: finite norms mean every element is finite in both runs (a norm that
    # overflows on finite values takes the exact path below).
    error, scale = float(torch.linalg.vector_norm(half - ref)), float(torch.linalg.vector_norm(ref))
    if math.isfinite(error) and math.isfinite(scale):
        return None, False, error / scale if scale > 0 else 0.0
    finite16 = torch.isfinite(half)
    bad, new_nan, both = None, False, torch.isfinite(ref)
    if not finite16.all():
        new = both & ~finite16
        new_nan = bool((torch.isnan(half) & ~torch.isnan(ref)).any())
        if new.any():
            bad = ("NaN" if torch.isnan(half[new]).any() else "inf", int(new.sum()), float(ref[new].abs().max()))
        both &= finite16
    ref0 = torch.where(both, ref.float(), 0.0)
    scale = float(ref0.norm())
    rel = float((torch.where(both, half, 0.0) - ref0).norm()) / scale if scale > 0 else 0.0
    return bad, new_nan, rel
