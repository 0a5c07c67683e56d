"""The pipeline for one run: capture each model, run the selected rules, collect a report."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from exportlint.config import ModelEntry
from exportlint.options import Options
from exportlint.engine.engine import graph_rules, run_rules
from exportlint.engine.registry import all_rules, select
from exportlint.engine.rule import Context, Finding
from exportlint.errors import LoadError
from exportlint.ir import OpGraph
from exportlint.progress import each_model, step
from exportlint.report import Report
from exportlint.suppress import apply_suppressions, graph_scope, suppressed_by
from exportlint.targets import TRACE_GRAPH
from exportlint.verdict import settle

if TYPE_CHECKING:
    from exportlint.decide import Decision, Subject


def check_graph(graph: OpGraph, options: Options, report: Report, decisions: Sequence[Decision] = ()
                ) -> list[Finding]:
    """Add the graph's findings to `report`; returns those a comment or per-file-ignores suppressed."""
    rules = graph_rules(select(all_rules(), options), graph.dialect)
    with step(f"{len(rules)} rules"):
        findings = run_rules(graph, rules, Context(options.targets, options, list(decisions)))
    findings = _link_source_fixes(findings, {r.code: r.source_fix for r in rules if r.source_fix})
    kept = apply_suppressions(findings, options, graph_scope(graph), graph.model, ran=rules)
    kept = settle(kept, options.targets, graph.dialect, decisions, options.require_default_path)
    report.add(graph.model, graph.capture, options.targets, kept, graph.dialect, decisions,
               options.require_default_path, graph)
    return [f for f in findings if suppressed_by(f, options) is not None]


def _link_source_fixes(findings: list[Finding], source_codes: dict[str, str]) -> list[Finding]:
    """Give a graph finding the fix of the source rule that rewrites the same line (GraphRule.source_fix)."""
    linked = [f for f in findings if f.code in source_codes and f.fix is None and f.location
              and f.location.path.endswith(".py") and Path(f.location.path).is_file()
              and f.called_from is None]  # never a fix in a library's file
    if not linked:
        return findings
    from exportlint.source import check_files

    fixes = {(f.code, f.location.path, f.location.line): f.fix
             for f in check_files(sorted({Path(f.location.path) for f in linked})) if f.fixable}
    return [replace(f, fix=fixes.get((source_codes[f.code], f.location.path, f.location.line)))
            if f in linked else f for f in findings]


def check_sources(paths: list[Path], options: Options, report: Report) -> list[Path]:
    """The source-only pass (no torch): one report entry per file. Returns the directories that
    the walk skipped (hidden and build ones)."""
    from exportlint.source import check_files
    from exportlint.source.walker import python_files, source_rules

    skipped: list[Path] = []
    files = python_files(paths, skipped)
    findings = apply_suppressions(check_files(files, options), options, {str(p): None for p in files},
                                  ran=source_rules(options))
    for path in files:
        mine = [f for f in findings if f.model == str(path)]
        report.add(str(path), None, [], mine)
    return skipped


def capture(spec: str, options: Options, shapes: list[str], dtypes: list[str]
            ) -> tuple[OpGraph, Subject | None]:
    """The graph of one SPEC, by front end: an .onnx file, a TensorFlow/Keras model, or PyTorch; and,
    for PyTorch, what the real converters would convert (`decide`). LoadError when the model cannot
    be loaded."""
    from exportlint.capture.onnx_file import is_onnx_spec
    from exportlint.capture.spec import user_code
    from exportlint.capture.tensorflow import is_tf_spec

    if is_onnx_spec(spec):
        from exportlint.capture.onnx_file import capture_onnx

        with step("loading"):
            return capture_onnx(Path(spec), options), None
    if is_tf_spec(spec):
        from exportlint.capture.tensorflow import capture_tf

        with user_code(spec), step("loading"):
            return capture_tf(spec, options), None
    from exportlint.capture.cache import CaptureCache
    from exportlint.capture.pytorch import load_spec, on_meta_device

    with user_code(spec):
        with step("building the model"):
            loaded = load_spec(spec, shapes, dtypes)
        graph, subject = capture_module(*loaded, spec, options)
    if CaptureCache.wanted(options):
        CaptureCache(spec, options, shapes, dtypes).put(
            graph, subject.fingerprint() if subject.known_graphs else None, on_meta_device(*loaded), spec)
    return graph, subject


def cached_check(spec: str, options: Options, shapes: list[str], dtypes: list[str], report: Report) -> bool:
    """Check SPEC from the capture cache when its graphs and every converter decision they need are
    there (`exportlint.capture.cache`): no import of the user's module, no capture. False otherwise."""
    from exportlint.capture.cache import CaptureCache
    from exportlint.capture.onnx_file import is_onnx_spec
    from exportlint.capture.tensorflow import is_tf_spec

    if not CaptureCache.wanted(options) or is_onnx_spec(spec) or is_tf_spec(spec):
        return False
    found = CaptureCache(spec, options, shapes, dtypes).get()
    if found is None:
        return False
    graph, fingerprint, on_meta = found
    decisions = []
    if graph.capture.ok:
        from exportlint.checks.operator_support import paths_to_convert
        from exportlint.decide import known_decisions

        decisions = known_decisions(fingerprint, options.targets, options.decide,
                                    paths_to_convert(graph, options.targets), on_meta)
        if decisions is None:
            return False
    with step("from the capture cache"):
        check_graph(graph, options, report, decisions)
    return True


def capture_module(model, inputs: tuple, name: str, options: Options) -> tuple[OpGraph, Subject]:
    """A PyTorch model's graph, with the TorchScript paths' graph when a target needs it."""
    from exportlint.capture.pytorch import capture_torch, capture_trace, data_dependent_branch, unrun_copy
    from exportlint.decide import Subject

    traces = any(p.graph == TRACE_GRAPH for t in options.targets for p in t.paths("aten"))
    unrun = unrun_copy(model) if traces else None  # the TorchScript paths take the module, as the user has it
    graph = capture_torch(model, inputs, options, name)
    subject = Subject(model, inputs, unrun=unrun)
    if traces:
        with step("capturing with torch.jit.trace (the TorchScript paths)"):
            capture_trace(graph, subject.fresh(), inputs,
                          script=options.script or data_dependent_branch(graph.capture))
    program = graph.source if graph.capture.method.startswith("torch.export") else None
    traced = graph.capture.traced
    return graph, replace(subject, program=program,
                          torchscript=traced.source if traced is not None else None)


def check_specs(specs: list[str], options: Options, shapes: list[str], dtypes: list[str], jobs: int = 1) -> Report:
    return check_all([(spec, options, shapes, dtypes) for spec in specs], jobs)


Job = tuple[str, Options, list[str], list[str]]  # one model to check: spec, options, input shapes and dtypes


def check_all(models: list[Job], jobs: int = 1, report: Report | None = None) -> Report:
    """Check each model into `report`, in order; with `jobs` > 1 in that many processes at once (each
    imports torch and the model afresh; the capture and decision caches are shared on disk). The
    report is the serial run's, in content and order."""
    report = report if report is not None else Report()
    if jobs <= 1 or len(models) <= 1:
        for spec, options, shapes, dtypes in each_model(models, lambda m: m[0]):
            check_model(spec, options, shapes, dtypes, report)
        return report
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: a forked child of a process that ran torch's OpenMP pool can hang in it
    with ProcessPoolExecutor(min(jobs, len(models)), mp_context=multiprocessing.get_context("spawn")) as pool:
        for part in pool.map(_check_in_worker, models):
            report.models += part.models
            report.findings += part.findings
    return report


def _check_in_worker(model: Job) -> Report:
    """One model's report, sent back to the parent: the graphs without their front end's objects
    (an ExportedProgram does not cross processes; the report reads the IR only)."""
    report = Report()
    check_model(*model, report)
    for m in report.models:
        graphs = [m.graph] if m.graph is not None else []
        while graphs:
            graph = graphs.pop()
            graph.source = None
            graphs += [graph.capture.traced] if graph.capture.traced is not None else []
    return report


def check_model(spec: str, options: Options, shapes: list[str], dtypes: list[str], report: Report) -> None:
    """Capture and check one SPEC into `report`; a model that cannot be loaded is an EXL003 finding."""
    from exportlint.capture.spec import user_code
    from exportlint.checks.load import InputNotLoaded

    try:
        if cached_check(spec, options, shapes, dtypes, report):
            return
        graph, subject = capture(spec, options, shapes, dtypes)
        with user_code(spec):
            check_captured(graph, subject, options, report)
    except LoadError as exc:
        report.add(spec, None, options.targets, [InputNotLoaded.at(spec, exc)])


def check_captured(graph: OpGraph, subject: Subject | None, options: Options, report: Report) -> None:
    """Decide what the tables cannot (`options.decide`: real translations, converters; for TensorFlow
    `exportlint.decide_tf`), run the rules."""
    from exportlint.checks.operator_support import paths_to_convert
    from exportlint.decide import decide

    decisions = []
    if subject and graph.capture.ok:
        decisions = decide(subject, options.targets, options.decide, paths_to_convert(graph, options.targets),
                           cache=options.cache)
    elif graph.dialect == "tf" and graph.capture.ok:
        from exportlint.checks.operator_support import proven_paths
        from exportlint.decide_tf import decide_tf

        decisions = decide_tf(graph.source.fn, options.targets, options.decide, proven_paths(graph, options.targets),
                              cache=options.cache, owner=graph.source.owner)
    check_graph(graph, options, report, decisions)


def check_models(models: list[ModelEntry], options: Options, report: Report | None = None, jobs: int = 1) -> Report:
    """The `[[tool.exportlint.models]]` of the config, each with its own shapes and overrides."""
    return check_all([(e.spec, e.options(options), e.input_shapes, e.input_dtypes) for e in models], jobs, report)


def models_in(models: list[ModelEntry], paths: list[Path]) -> list[ModelEntry]:
    """The configured models whose factory is defined in one of `paths` (files or directories): what
    `exportlint check --with-models CHANGED.py` captures besides the source pass."""
    import importlib.util

    from exportlint.source.walker import python_files

    def factory_file(spec: str) -> Path | None:
        target = spec.rpartition(":")[0]
        if target.endswith(".py"):
            return Path(target).resolve()
        try:
            found = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            return None
        return Path(found.origin).resolve() if found and found.origin else None

    changed = {p.resolve() for p in python_files(paths)}
    return [m for m in models if factory_file(m.spec) in changed]
