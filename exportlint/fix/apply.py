"""`exportlint fix SPEC --output fixed.pt2|fixed.onnx`: capture, check, rewrite pass by pass with each
pass's numeric effect measured, write the fixed model, capture it again and check what was cleared.

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

from exportlint.options import Options
from exportlint.engine.rule import Applicability, Finding
from exportlint.errors import UsageError
from exportlint.fix.measure import Effect, compare
from exportlint.fix.passes import Refusal, RewritePass
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


# --- entry point ------------------------------------------------------------------------------------

OUTPUT_SUFFIXES = (".pt2", ".onnx")


def fix_model(spec: str, options: Options, output: Path, unsafe: bool = False, shapes: Sequence[str] = (),
              dtypes: Sequence[str] = (), inputs_file: Path | None = None,
              select: Sequence[str] = ()) -> FixResult:
    """Rewrite the model named by `spec` (file.py:factory, or a .onnx file), write it to `output`
    (.pt2 via torch.export.save, or .onnx), re-check it. `select` names passes to run (default: all
    that apply); `inputs_file` is a .pt of tensors used for measuring besides random inputs."""
    from exportlint.capture.onnx_file import is_onnx_spec

    output = Path(output)
    if is_onnx_spec(spec):
        if output.suffix != ".onnx":
            raise UsageError(f"--output {output}: an ONNX model is written as .onnx")
        from exportlint.fix.onnx_passes import fix_onnx

        return fix_onnx(Path(spec), options, output, unsafe, inputs_file, select)
    if output.suffix not in OUTPUT_SUFFIXES:
        raise UsageError(f"--output {output}: expected a .pt2 or .onnx file")
    return _fix_torch(spec, options, output, unsafe, list(shapes), list(dtypes), inputs_file, select)


def _fix_torch(spec, options, output, unsafe, shapes, dtypes, inputs_file, select) -> FixResult:
    import torch

    from exportlint.capture.pytorch import capture_torch, load_spec
    from exportlint.fix.measure import load_inputs, random_like
    from exportlint.fix.torch_passes import editable, torch_passes

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


# --- text -------------------------------------------------------------------------------------------

def render_fix_result(result: FixResult) -> str:
    out = [f"== {result.model} -> {result.output}"]
    width = max((len(f.name) for f in result.fixes), default=0)
    for fix in result.fixes:
        line = f"  [{fix.applicability.value:<6}] {fix.name:<{width}}  {fix.status.value}"
        if fix.rewritten:
            line += f" ({len(fix.rewritten)} node{'s' * (len(fix.rewritten) > 1)})"
        out.append(line)
        if fix.effect is not None:
            out.append(f"           effect: {fix.effect}")
        for refusal in fix.refused:
            out.append(f"           {refusal.node}: not rewritten: {refusal.reason}")
    if result.total is not None:
        out.append(f"  fixed vs original: {result.total}")
    if result.cleared:
        out.append("  cleared: " + ", ".join(f"{k} x{n}" for k, n in result.cleared.items()))
    if result.introduced:
        out.append("  new after fixing: " + ", ".join(f"{k} x{n}" for k, n in result.introduced.items()))
    out.extend(f"  note: {n}" for n in result.notes)
    out.append(f"  findings: {len(result.before)} before, {len(result.after)} after")
    return "\n".join(out)
