"""Sizes frozen at capture (EXL201), found without a second capture: the torch calls of the model's
forward pass at the example input sizes, recorded at the torch-function level (`Recorder`), against
those of a fake-tensor pass at grown sizes (`grown_inputs`). An argument computed from an input's size
(`x.view(x.size(0), -1)`, `F.avg_pool2d(x, x.shape[2:])`, `int(x.shape[2]) * 2`) differs between the
two passes; a Python loop over a size runs its calls another number of times.

Both passes are the model's own, eager, on fake tensors, as torch.export runs it: they allocate
nothing, and where a library branches on a value (which a fake tensor has not) or on
`torch.compiler.is_exporting()` both take the branch the export takes. torch.export is run once. One
with every dim `Dim.AUTO` would show the same arithmetic as symbols, but costs 1.1-4.6 times a static
export (sympy on every shape), a fake forward pass 0.2-0.5 times (`benchmarks/capture_costs.py`).

Calls inside one of torch's own Python functions called from user code (`torch.stft`'s padding
views) are not seen: a torch-function mode is off while it handles a call.
"""

from __future__ import annotations

import sys
from functools import cache
from typing import Any

from exportlint.capture.locate import Frame, is_framework_file, is_library_file, is_user_file, locate
from exportlint.ir import Location, SizeRun

# (function name, where, the user's call site of a library's line, ((argument, canonical value), ...))
Call = tuple[str, Location | None, Location | None, tuple]
SKIP = "skip"  # a call inside one of torch's own modules: the module's business, not the user's


@cache
def _recorder_class():
    from torch.overrides import TorchFunctionMode

    class Recorder(TorchFunctionMode):
        """Every torch function called from user or library code, with its int-like arguments. Calls made
        inside torch's own modules (`nn.Flatten.forward`) are left out; calls inside a recorded call are not
        seen (a mode is off while it handles a call)."""

        def __init__(self):
            super().__init__()
            self.calls: list[Call] = []

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            name = getattr(func, "__name__", type(func).__name__)
            where = _caller(sys._getframe(1), name)
            if where is not SKIP:
                self.calls.append((name, *where, _arguments(func, args, kwargs)))
            return func(*args, **kwargs)

    return Recorder


def recorder():
    """A new `Recorder` (a `TorchFunctionMode`: `with rec: model(*inputs)`, then `rec.calls`)."""
    return _recorder_class()()


@cache
def _kind(path: str) -> str:
    if is_user_file(path):
        return "user"
    if is_library_file(path):
        return "library"
    return "framework" if is_framework_file(path) else "other"


@cache
def _where(path: str, line: int, name: str) -> Location | None:
    return locate([Frame(path, line)], (name,), library_first=True)[0]


def _caller(frame, name: str) -> tuple[Location | None, Location | None] | str:
    """(where, call site): the innermost user or library frame that made the call and, when that is
    a library's, the innermost user frame; SKIP when a torch module's `forward` lies between (the
    call is that module's)."""
    where = None
    while frame is not None:
        path = frame.f_code.co_filename
        kind = _kind(path)
        if kind == "user":
            here = _where(path, frame.f_lineno, name)
            return (where, here) if where else (here, None)
        if kind == "library" and where is None:
            where = _where(path, frame.f_lineno, name)
        elif kind == "framework" and where is None and frame.f_code.co_name == "forward":
            return SKIP
        frame = frame.f_back
    return where, None


def _arguments(func, args: tuple, kwargs: dict) -> tuple:
    """(name, canonical value) per argument. Positional ones are named from the function's signature
    (an ATen schema for a builtin), "#i" where there is none; trailing positional ints that fill a
    list argument are that list, as varargs (`x.view(1, -1)`: size=[1, -1])."""
    def is_int(a) -> bool:
        return isinstance(a, int) and not isinstance(a, bool)

    start = next((i for i, a in enumerate(args) if is_int(a)), len(args))
    tail = len(args) - start > 1 and all(map(is_int, args[start:]))
    signatures = _positional(func)
    names = signatures[-1][0] if signatures else ()
    for names, lists in signatures:
        if tail and start < len(lists) and lists[start]:
            args = (*args[:start], list(args[start:]))
            break
        if len(names) >= len(args):
            break
    return tuple((names[i] if i < len(names) else f"#{i}", _canonical(a)) for i, a in enumerate(args)) + tuple(
        (k, _canonical(v)) for k, v in sorted(kwargs.items()))


@cache
def _positional(func) -> tuple[tuple[tuple[str, ...], tuple[bool, ...]], ...]:
    """`func`'s signatures, fewest positional parameters first: their names, and which take a list.
    From its Python signature, else from the ATen schemas of its name."""
    import inspect

    import torch

    try:
        params = [p for p in inspect.signature(func).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        return ((tuple(p.name for p in params), (False,) * len(params)),)
    except (TypeError, ValueError):
        pass
    try:
        schemas = torch._C._jit_get_schemas_for_operator(f"aten::{getattr(func, '__name__', '')}")
    except RuntimeError:
        return ()
    positional = sorted(([a for a in schema.arguments if not a.kwarg_only] for schema in schemas), key=len)
    return tuple((tuple(a.name for a in p), tuple(a.type.kind() == "ListType" for a in p)) for p in positional)


def _canonical(value: Any) -> Any:
    """A comparable form of an argument: tensors as a placeholder (their shapes differ by design),
    slices as ("slice", start, stop, step), sequences (torch.Size too) as lists."""
    import torch

    if isinstance(value, torch.Tensor):
        return "<tensor>"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, slice):
        return ("slice", _canonical(value.start), _canonical(value.stop), _canonical(value.step))
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if value is Ellipsis:
        return "..."
    if isinstance(value, (torch.dtype, torch.device, torch.memory_format, torch.layout)):
        return str(value)
    return f"<{type(value).__name__}>"


def forward_failure(model, inputs: tuple, mode=None) -> Exception | None:
    """The exception of one forward pass without gradients (under the torch-function `mode` if
    given), or None when it runs."""
    import contextlib

    import torch

    try:
        with torch.no_grad(), mode or contextlib.nullcontext():
            model(*inputs)
    except Exception as exc:  # noqa: BLE001 - the caller reports it
        return exc
    return None


def fake_failure(model, inputs: tuple, mode=None) -> Exception | None:
    """`forward_failure` on fake tensors: how a meta-device model runs (libraries branch on values
    eagerly, which a meta tensor cannot give, and take the traced branch on fake tensors, as
    torch.export will)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    fake = FakeTensorMode(allow_non_fake_inputs=True)
    with fake:
        return forward_failure(model, _faked(fake, inputs), mode)


def _faked(mode, inputs: tuple, shapes: dict[int, list[int]] | None = None) -> tuple:
    """`inputs` as fake tensors of `mode`; the one at index i a new one of shape `shapes[i]`."""
    import torch

    shapes = shapes or {}
    with mode:
        return tuple(torch.empty(shapes[i], dtype=t.dtype, device=t.device) if i in shapes else
                     mode.from_tensor(t) if isinstance(t, torch.Tensor) else t for i, t in enumerate(inputs))


def grown_inputs(model, inputs: tuple) -> tuple[tuple, list[Call]] | None:
    """The example inputs with each dim the model accepts at twice its size doubled, and the calls of
    the model's pass at those sizes. The candidates are the batch dim (dim 0 of every floating-point
    input together) and every other dim alone; they are tried as a group, and a group under which the
    model fails is split in halves, each tried on top of what the first kept: a forward pass per
    group, not per dim. Feature dims (an image's channels, a sequence's hidden size), which rarely
    grow, are a group tried after the others, so that a CNN's batch, height and width grow in one
    pass. Only floating-point tensors grow (integer inputs carry values such as lengths that must
    match). None if no dim can change.

    The grown inputs are fake tensors (FakeTensorMode) and the trial passes run on them: nothing of
    the doubled sizes is allocated (real ones took 6.5 GB for 8x3x1024x1024 inputs)."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    floats = [i for i, t in enumerate(inputs) if isinstance(t, torch.Tensor) and t.is_floating_point()]
    if not floats:
        return None
    shapes = {i: list(inputs[i].shape) for i in floats}
    calls: list[Call] = []
    mode = FakeTensorMode(allow_non_fake_inputs=True)

    def grow(group: list[list[tuple[int, int]]]) -> bool:
        nonlocal shapes, calls
        trial = {i: list(s) for i, s in shapes.items()}
        for i, d in (dim for dims in group for dim in dims):
            trial[i][d] *= 2
        rec = recorder()
        with mode:
            failed = forward_failure(model, _faked(mode, inputs, trial), rec)
        if failed is None:
            shapes, calls = trial, rec.calls
            return True
        if len(group) == 1:
            return False
        first = grow(group[:len(group) // 2])
        return grow(group[len(group) // 2:]) or first

    batch = [(i, 0) for i in floats if inputs[i].dim() >= 2]
    candidates = ([batch] if batch else []) + [
        [(i, d)] for i in floats for d in range(1 if inputs[i].dim() >= 2 else 0, inputs[i].dim())]
    feature = {(i, {3: 2, 4: 1, 5: 1}.get(inputs[i].dim())) for i in floats}
    likely = [c for c in candidates if not set(c) & feature]
    unlikely = [c for c in candidates if set(c) & feature]
    grew = bool(likely) and grow(likely)
    return (_faked(mode, inputs, shapes), calls) if (bool(unlikely) and grow(unlikely)) or grew else None


def size_run(model, inputs: tuple) -> tuple[SizeRun | None, str | None]:
    """The calls of a pass at the example sizes against those of a pass at grown sizes, or why
    there are none. Both on fake tensors, and with `torch.compiler.is_exporting()` true, as torch.export
    runs the model: libraries branch on it (transformers builds the attention masks an eager pass skips,
    and bypasses its caches)."""
    from torch._export.utils import _compiling_state_context

    from exportlint.capture.spec import quiet

    if model.training:
        return None, "the model is in training mode (extra forward passes would move batch-norm statistics)"
    try:
        with quiet(), _compiling_state_context():
            here = recorder()
            failed = fake_failure(model, inputs, here)
            if failed is not None:
                return None, f"the model does not run on fake tensors ({_why(failed)})"
            grown = grown_inputs(model, inputs)
    except Exception as exc:  # noqa: BLE001 - no second pass to compare: EXL201 says so
        return None, f"the passes at other sizes failed ({_why(exc)})"
    if grown is None:
        return None, "no input dimension can double with the model still running"
    bigger, there = grown
    return compare(here.calls, there, _sizes(inputs), _sizes(bigger)), None


def _why(exc: Exception) -> str:
    first = next(iter(str(exc).strip().splitlines()), "")
    return f"{type(exc).__name__}: {first}"[:200]


def _sizes(inputs: tuple) -> str:
    return ", ".join("x".join(map(str, t.shape)) for t in inputs if hasattr(t, "shape"))


def compare(here: list[Call], there: list[Call], sizes_here: str, sizes_there: str) -> SizeRun:
    """What changed between the two passes: the first call (by line, in order) made another number of
    times, and every call whose int-like arguments differ from the same call (same line, same
    occurrence) of the other pass."""
    from collections import defaultdict

    def by_line(calls: list[Call]) -> dict[tuple, list[Call]]:
        out = defaultdict(list)
        for call in calls:
            out[call[0], call[1]].append(call)
        return out

    a, b = by_line(here), by_line(there)
    loop = next(((*(a[key] or b[key])[0][:3], len(a[key]), len(b[key])) for key in [*a, *b]
                 if len(a[key]) != len(b[key])), None)
    changed = []
    for key, calls in a.items():
        for (name, where, site, args), (*_, others) in zip(calls, b[key]):
            diff = tuple((label, v, w) for (label, v), (other, w) in zip(args, others)
                         if label == other and v != w and _has_int(v))
            if diff:
                changed.append((name, where, site, diff))
    return SizeRun(sizes_here, sizes_there, loop=loop, changed=tuple(changed))


def _has_int(value: Any) -> bool:
    """Holds an int (a size, an index, a slice bound) and nothing but ints, None and slices."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, tuple):  # a slice
        return any(_has_int(v) for v in value[1:]) and all(v is None or _has_int(v) for v in value[1:])
    return isinstance(value, list) and any(_has_int(v) for v in value) and all(
        v is None or v == "..." or _has_int(v) for v in value)
