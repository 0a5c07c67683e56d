"""The framework-neutral part of `exportlint fix`: results, the plan (which passes run), the pass loop with
each pass's numeric effect measured, and the findings before and after. The drivers (`torch_passes.fix_torch`,
`onnx_passes.fix_onnx`) call it; it never imports them.

Policy per pass: a safe pass is kept only when its outputs stay within float tolerance of the model
before it (else it is rejected and reported); an unsafe pass is measured, and kept only with
`unsafe=True`. Structural passes run whenever they match; activation rewrites (`targeted`) run where a
requested target lacks the op they remove, or when named in `select`.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from exportlint.engine.rule import Applicability, Finding
from exportlint.errors import UsageError
from exportlint.fix.measure import Effect, compare
from exportlint.fix.passes import Refusal, RewritePass
from exportlint.options import Options
from exportlint.tables import Status, support

if TYPE_CHECKING:
    from exportlint.ir import OpGraph


class FixStatus(str, Enum):
    APPLIED = "applied"
    UNSAFE_SKIPPED = "not applied: unsafe (pass --unsafe-fixes)"
    OUT_OF_TOLERANCE = "rejected: outside float tolerance"
    NO_MATCH = "no match"
    NOT_NEEDED = "not needed: every target supports the op"


@dataclass(frozen=True)
class FixOutcome:
    name: str
    applicability: Applicability
    summary: str
    status: FixStatus
    rewritten: tuple[str, ...] = ()
    refused: tuple[Refusal, ...] = ()
    effect: Effect | None = None  # measured against the model before this pass


@dataclass(frozen=True, order=True)
class FindingKey:
    code: str
    target: str
    op: str

    @classmethod
    def of(cls, f: Finding) -> "FindingKey":
        return cls(f.code, f.target or "*", f.op or "-")

    def __str__(self) -> str:
        return f"{self.code} [{self.target}] {self.op}"


@dataclass
class FixResult:
    model: str
    output: Path
    fixes: list[FixOutcome]
    total: Effect | None  # the written model against the original
    before: list[Finding] = field(default_factory=list)
    after: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # facts about the written file (e.g. its real opset)

    @property
    def applied(self) -> list[FixOutcome]:
        return [f for f in self.fixes if f.status is FixStatus.APPLIED]

    def _delta(self, a: list[Finding], b: list[Finding]) -> dict[FindingKey, int]:
        return dict(sorted((Counter(map(FindingKey.of, a)) - Counter(map(FindingKey.of, b))).items()))

    @property
    def cleared(self) -> dict[FindingKey, int]:
        """Findings (code, target, op) present before the fixes and gone after, with their counts."""
        return self._delta(self.before, self.after)

    @property
    def introduced(self) -> dict[FindingKey, int]:
        return self._delta(self.after, self.before)


# --- the pass loop (framework-neutral) --------------------------------------------------------------

Run = Callable[[Any, Sequence], list]  # (model, inputs) -> outputs as numpy arrays


def plan(passes: Sequence[RewritePass], targets, dialect: str, before: Sequence[Finding], unsafe: bool,
         select: Sequence[str]) -> list[tuple[RewritePass, FixStatus | None]]:
    """Each pass with None (run it) or the status that says why it does not run."""
    known = {p.name for p in passes}
    unknown = [s for s in select if s not in known]
    if unknown:
        raise UsageError(f"unknown fix {unknown[0]!r}; fixes: {', '.join(sorted(known))}")
    flagged = {f.op for f in before}
    planned = []
    for p in passes:
        if select:
            wanted = p.name in select
        elif p.applicability is Applicability.UNSAFE and not unsafe:
            wanted = False  # an alternative to a safe pass: only by name
        elif p.targeted:
            wanted = bool(flagged & set(p.removes)) or any(
                support(op, t, dialect).status is Status.UNSUPPORTED for op in p.removes for t in targets)
        else:
            wanted = True
        if wanted:
            planned.append((p, None))
        elif not select and p.targeted:
            planned.append((p, FixStatus.NOT_NEEDED))
    return planned


def run_passes(model: Any, planned, run: Run, input_sets: Sequence[Sequence], described: str,
               unsafe: bool, keep: frozenset[str] = frozenset()) -> tuple[Any, list[FixOutcome], list[RewritePass]]:
    """Apply the planned passes in order, leaving the nodes in `keep` alone. Returns (final model,
    outcomes, applied passes)."""
    outcomes: list[FixOutcome] = []
    applied: list[RewritePass] = []
    for p, status in planned:
        if status is not None:
            outcomes.append(FixOutcome(p.name, p.applicability, p.summary, status))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = p(model, keep)
        if not result.modified:
            outcomes.append(FixOutcome(p.name, p.applicability, p.summary, FixStatus.NO_MATCH,
                                       refused=tuple(result.refused)))
            continue
        pairs = [(p.transform_inputs(x), x) for x in input_sets]
        effect = compare(lambda xs: run(model, xs), lambda xs: run(result.model, xs), pairs, described)
        if p.applicability is Applicability.UNSAFE and not unsafe:
            status = FixStatus.UNSAFE_SKIPPED
        elif p.applicability is Applicability.SAFE and not effect.within_tolerance:
            status = FixStatus.OUT_OF_TOLERANCE
        else:
            status = FixStatus.APPLIED
            model = result.model
            applied.append(p)
        outcomes.append(FixOutcome(p.name, p.applicability, p.summary, status, tuple(result.rewritten),
                                   tuple(result.refused), effect))
    return model, outcomes, applied


def original_inputs(applied: Sequence[RewritePass], inputs: Sequence) -> Sequence:
    """Inputs of the fixed model -> inputs of the original (undo interface changes, last pass first)."""
    for p in reversed(applied):
        inputs = p.transform_inputs(inputs)
    return inputs


def findings_of(graph: "OpGraph", options: Options) -> tuple[list[Finding], frozenset[str]]:
    """The graph's findings as `check` reports them, and the nodes of the suppressed ones (no pass
    rewrites those, as `fix FILE` leaves a suppressed line alone)."""
    from exportlint.report import Report
    from exportlint.run import check_graph

    report = Report()
    suppressed = check_graph(graph, options, report)
    return report.findings, frozenset(f.node for f in suppressed if f.node)


def describe_inputs(draws: int, inputs_file: Path | None) -> str:
    text = f"{draws} random draws (seed 0)"
    return text + f" + {inputs_file.name}" if inputs_file else text
