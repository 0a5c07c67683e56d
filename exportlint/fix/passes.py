"""The rewrite-pass framework shared by the torch and ONNX rewrites.

A pass finds candidates by a cheap structural `pattern`, asks `check` whether each one may be
rewritten (a refusal carries its reason, like onnxscript's `MatchResult.fail`), then `rewrite`s the
accepted ones on a deep copy: the caller's model is never mutated. It returns a `PassResult`
(torch.fx `PassResult` style) with the new model, whether it changed, and why candidates were refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Sequence, TypeVar

from exportlint.engine.rule import Applicability

M = TypeVar("M")


@dataclass(frozen=True)
class MatchResult:
    ok: bool
    reason: str = ""

    @classmethod
    def success(cls) -> "MatchResult":
        return cls(True)

    @classmethod
    def fail(cls, reason: str) -> "MatchResult":
        return cls(False, reason)


SUCCESS = MatchResult.success()
SUPPRESSED = "its finding is suppressed"  # `exportlint fix` leaves what `check` does not report alone


@dataclass(frozen=True)
class Refusal:
    """A candidate that matched the pattern but failed the check."""

    node: str
    reason: str


@dataclass
class PassResult(Generic[M]):
    model: M
    modified: bool
    rewritten: list[str] = field(default_factory=list)  # names of the nodes rewritten
    refused: list[Refusal] = field(default_factory=list)


class RewritePass(Generic[M]):
    """One rewrite. Subclasses set the class attributes and implement `__call__`."""

    name: ClassVar[str]  # slug: what the rewrite does, e.g. "fold-batchnorm"
    summary: ClassVar[str]
    applicability: ClassVar[Applicability]
    removes: ClassVar[tuple[str, ...]] = ()  # ops (dialect names) the rewrite takes out of the graph
    # Structural passes run whenever they match; `targeted` ones only where a target lacks an op in
    # `removes` (or when selected by name): replacing a supported op gains nothing.
    targeted: ClassVar[bool] = False

    def __call__(self, model: M, keep: frozenset[str] = frozenset()) -> PassResult[M]:
        """Rewrite `model`'s matches, except the nodes named in `keep` (refused with `SUPPRESSED`)."""
        raise NotImplementedError

    def transform_inputs(self, inputs: Sequence[Any]) -> Sequence[Any]:
        """Inputs of the rewritten model -> the inputs the original expects (identity unless the pass
        changes the model's input contract, e.g. by moving preprocessing into the graph)."""
        return inputs
