"""The numeric effect of a rewrite: run the model before and after on the same inputs, compare outputs.

Per output: the largest absolute difference `max|new - ref|`, and the largest relative difference
`max(|new - ref| / |ref|)` over the elements where `|ref| > ATOL` (near zero a relative difference says
nothing). A rewrite is within float tolerance when every element satisfies
`|new - ref| <= ATOL + RTOL * |ref|` (numpy.allclose's rule) for float32 outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    import numpy as np

RTOL = 1e-4
ATOL = 1e-5


@dataclass(frozen=True)
class OutputDiff:
    index: int
    max_abs: float
    max_rel: float
    within: bool  # inside ATOL + RTOL * |ref| everywhere (and same shape)


@dataclass(frozen=True)
class Effect:
    """Differences over every output, worst case over every input set."""

    inputs: str  # what the models ran on, e.g. "3 random draws (seed 0) + inputs.pt"
    outputs: tuple[OutputDiff, ...]

    @property
    def within_tolerance(self) -> bool:
        return all(o.within for o in self.outputs)

    @property
    def max_abs(self) -> float:
        return max((o.max_abs for o in self.outputs), default=0.0)

    @property
    def max_rel(self) -> float:
        return max((o.max_rel for o in self.outputs), default=0.0)

    def __str__(self) -> str:
        parts = [f"out{o.index}: max abs {o.max_abs:.3g}, max rel {o.max_rel:.3g}" for o in self.outputs]
        return "; ".join(parts) + f" (on {self.inputs})"


def diff(new: "np.ndarray", ref: "np.ndarray", index: int = 0) -> OutputDiff:
    import numpy as np

    new, ref = np.asarray(new, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if new.shape != ref.shape:
        return OutputDiff(index, float("inf"), float("inf"), False)
    if new.size == 0:
        return OutputDiff(index, 0.0, 0.0, True)
    delta = np.abs(new - ref)
    big = np.abs(ref) > ATOL
    rel = float(np.max(delta[big] / np.abs(ref[big]))) if big.any() else 0.0
    within = bool(np.all(delta <= ATOL + RTOL * np.abs(ref)))
    return OutputDiff(index, float(delta.max()), rel, within)


def compare(reference: Callable[[Sequence], Sequence["np.ndarray"]],
            candidate: Callable[[Sequence], Sequence["np.ndarray"]],
            input_sets: Sequence[tuple[Sequence, Sequence]], description: str) -> Effect:
    """Run `reference` and `candidate` on each (reference inputs, candidate inputs) pair; the two
    differ only when a rewrite changes the model's input contract. Worst case per output."""
    worst: dict[int, OutputDiff] = {}
    for ref_inputs, new_inputs in input_sets:
        refs, news = reference(ref_inputs), candidate(new_inputs)
        if len(refs) != len(news):
            return Effect(description, (OutputDiff(0, float("inf"), float("inf"), False),))
        for i, (new, ref) in enumerate(zip(news, refs)):
            d = diff(new, ref, i)
            old = worst.get(i)
            worst[i] = d if old is None else OutputDiff(i, max(old.max_abs, d.max_abs),
                                                         max(old.max_rel, d.max_rel), old.within and d.within)
    return Effect(description, tuple(worst[i] for i in sorted(worst)))


# --- inputs -----------------------------------------------------------------------------------------

RANDOM_DRAWS = 3
SEED = 0


def random_like(example: Sequence, draws: int = RANDOM_DRAWS, seed: int = SEED) -> list[tuple]:
    """Random input sets shaped like the example inputs: normal floats; integers within the example's
    range (token ids, lengths stay valid); booleans at random."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    sets = []
    for _ in range(draws):
        made = []
        for t in example:
            if t.dtype.is_floating_point:
                made.append(torch.randn(t.shape, generator=gen, dtype=t.dtype))
            elif t.dtype == torch.bool:
                made.append(torch.rand(t.shape, generator=gen) > 0.5)
            elif t.dim() == 1:
                made.append(t.clone())  # lengths-like integer vectors: keep the example's
            else:
                low, high = (int(t.min()), int(t.max()) + 1) if t.numel() else (0, 1)
                made.append(torch.randint(low, high, t.shape, generator=gen, dtype=t.dtype))
        sets.append(tuple(made))
    return sets


def load_inputs(path, count: int) -> tuple:
    """User inputs from a `.pt` file: a tensor, or a tuple/list of `count` tensors. Loaded with
    `weights_only=True`: tensors and containers only, never arbitrary pickled objects."""
    import torch

    from exportlint.errors import UsageError

    try:
        value = torch.load(path, weights_only=True)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - a bad or unsafe file is a usage error
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{path}: cannot load inputs (tensors only, weights_only=True): {first}") from None
    inputs = (value,) if isinstance(value, torch.Tensor) else value
    if not isinstance(inputs, (tuple, list)) or not all(isinstance(t, torch.Tensor) for t in inputs):
        raise UsageError(f"{path}: expected a tensor or a tuple/list of tensors, got {type(value).__name__}")
    if len(inputs) != count:
        raise UsageError(f"{path}: holds {len(inputs)} tensor(s); the model takes {count} input(s)")
    return tuple(inputs)
