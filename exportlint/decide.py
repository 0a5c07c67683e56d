"""Decide conversion paths with the real converters, where the tables are not the last word.

`decide` modes (`Options.decide`): "static" runs nothing; "auto" (the default) runs the converter
of each path with an op no probe proved (a form no probe covered, a missing table, an op only the
converter's registry lists) or one the tables say fails (`operator_support.paths_to_convert`), and
the paths a family runs always (`Family.auto_paths`: the ONNX paths' own translation —
`torch.onnx.export` of the ExportedProgram already captured, or of the module where that fails (dynamo), and of the
module (TorchScript exporter), then the produced opset, `onnx.checker` and ONNX Runtime against
PyTorch's outputs: seconds, torch only); "confirm" (`--confirm`) also runs every other installed
converter per path. Each family's unit (`exportlint.families.<name>`, `Family.runner`) holds its
converter: Core ML (conversion only, prediction needs macOS), TFLite (convert, then a run in the
LiteRT interpreter; `tflite:gpu` an estimate without a device), ExecuTorch (lowering with the
delegate's partitioner, the `.pte` run where the runtime runs here), OpenVINO (convert, compile and
run on the CPU plugin). TensorRT needs a GPU: never run. A converter's answer, when it ran, is the
path's verdict. Converters run in a forked child process per family, with a timeout per conversion:
one that aborts or hangs fails its own path only.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Callable

from exportlint.progress import step
from exportlint.targets import Target

TRANSLATION, CONVERTER = "translation", "converter"
# The detail of a conversion that worked and ran but computes other outputs than the source model (EXL101 warns):
# the converter did its job, the numbers (or a data-dependent size, e.g. NMS's box count) are the user's to judge.
NUMERICS_CAVEAT = "converts and runs, but its outputs differ from the source model's"
ON_META = "the model is on the meta device (no weights, no data): converters need real tensors; the tables decide"
CONVERTER_TIMEOUT = 600.0  # seconds one conversion may take; `EXPORTLINT_CONVERTER_TIMEOUT` overrides


def ran(problem: str | None, detail: str) -> tuple[bool, str]:
    """A runner's answer for a converted model that ran: converted, with the output difference as the caveat."""
    return True, f"{NUMERICS_CAVEAT}: {problem}" if problem else detail


def validated(result: Any, detail: str, source: str = "") -> tuple[bool, str]:
    """A runner's answer from an ONNX model's validation (`onnx_runner.validate`): failed, with `source`'s
    prefix, unless the model ran and only its outputs differ (`ran`)."""
    from exportlint.tables.probe.harness import outputs_differ

    if result.status != "supported" and not outputs_differ(result.reason):
        return False, source + result.reason
    return ran(result.reason or None, detail)


@dataclass(frozen=True)
class Decision:
    target: str
    path: str
    converted: bool | None  # None: could not run here (missing package, needs a device)
    detail: str  # the converter's one-line error, or what was checked
    by: str  # TRANSLATION or CONVERTER

    def line(self) -> str:
        if self.converted is None:
            return f"[{self.target} {self.path}] not run: {self.detail}"
        return f"[{self.target} {self.path}] {'converted' if self.converted else 'failed'}: {self.detail}"


@dataclass(frozen=True)
class Subject:
    """What the runners convert: the user's module, its example inputs, the ExportedProgram and the
    TorchScript module (traced, or scripted) exportlint captured (None when that capture failed), and a
    copy of the module taken before anything ran it (`unrun_copy`; None: the module itself)."""

    model: Any
    inputs: tuple
    program: Any = None
    torchscript: Any = None
    unrun: Any = None

    def fresh(self) -> Any:
        """The module as the user's code has it when it calls a converter: a new copy of the unrun module. A
        module that caches on its first call (LeViT's attention biases) would otherwise meet the converter
        with what exportlint's runs left in it."""
        import copy

        return self.model if self.unrun is None else copy.deepcopy(self.unrun)

    def expected(self) -> list:
        """PyTorch's outputs on the example inputs, flattened to tensors: what a runtime must match."""
        import torch

        with torch.no_grad():
            out = self.model(*self.inputs)
        return [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]

    @property
    def scripted(self) -> bool:
        import torch

        return isinstance(self.torchscript, torch.jit.ScriptModule) and not isinstance(
            self.torchscript, torch.jit.TopLevelTracedModule)

    def user_trace(self) -> Any:
        """What `ct.convert` is given on its trace path: the scripted module when the model was scripted,
        else `torch.jit.trace(model, inputs)` as users call it (strict, with its sanity check, which fails
        where a re-run traces another graph: nn.MultiheadAttention's fast path), not exportlint's own trace."""
        import torch

        return self.torchscript if self.scripted else torch.jit.trace(self.fresh(), self.inputs)

    def for_torchscript_exporter(self) -> Any:
        """What `torch.onnx.export(dynamo=False)` is given: the scripted module when the model was scripted,
        else the model itself, as users call it: the exporter traces it inside its export context, where
        modules take their export branches (nn.MultiheadAttention leaves its fused fast path, which a plain
        trace keeps and the exporter then fails on)."""
        return self.torchscript if self.scripted else self.fresh()

    @property
    def known_graphs(self) -> bool:
        """A graph was captured to key the decisions on (`fingerprint`)."""
        return self.program is not None or self.torchscript is not None

    def fingerprint(self) -> str:
        """What decides a conversion: both captured graphs (ops, arguments, shapes, dtypes) and the
        example inputs' shapes and dtypes. Weights are left out: they do not change which ops a
        converter meets."""
        import hashlib

        traced = str(self.torchscript.inlined_graph) if self.torchscript is not None else ""
        parts = [str(self.program.graph) if self.program is not None else "",
                 re.sub(r"___torch_mangle_\d+\.", "", traced),  # class names renumbered per process
                 repr([(tuple(t.shape), str(t.dtype)) for t in self.inputs if hasattr(t, "shape")])]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def decide(subject: Subject, targets: list[Target], mode: str, to_convert: set[tuple[str, str]] = frozenset(),
           cache: bool = True) -> list[Decision]:
    """Run the converters `mode` asks for on `subject`, per target and conversion path: in "auto"
    mode the ONNX paths, and the (target, path) pairs in `to_convert` (`paths_to_convert`). With
    `cache`, a decision made before for the same graphs and library versions is reused."""
    from exportlint.capture.pytorch import on_meta_device

    runs = _runs(targets, mode, to_convert)
    if not runs:
        return []
    if on_meta_device(subject.model, subject.inputs):
        return _on_meta(runs)
    store = DecisionCache(subject.fingerprint()) if cache and subject.known_graphs else None
    training = subject.model.training
    subject.model.eval()  # as captured; restored below
    try:
        out, todo = {}, []
        for target, path, runner, by in runs:
            known = store.get(target, path, by) if store else None
            if known:
                out[str(target), path] = known
            else:
                todo.append((target, path, runner, by))
        for (target, *_), decision in zip(todo, _isolated(subject, todo)):
            out[decision.target, decision.path] = decision
            if store and decision.converted is not None:
                store.put(target, decision)
        return [out[str(t), p] for t, p, *_ in runs]
    finally:
        subject.model.train(training)


def _runs(targets: list[Target], mode: str, to_convert: set[tuple[str, str]]) -> list[tuple[Target, str, Callable, str]]:
    """The conversions `mode` asks for, as (target, path, runner, TRANSLATION or CONVERTER): every path with a
    runner in "confirm"; in "auto" the family's `auto_paths` (a translation check) and the `to_convert` ones."""
    if mode == "static":
        return []
    return [(t, p.name, t.unit.runner(p.name), TRANSLATION if mode == "auto" and p.name in t.unit.auto_paths
             else CONVERTER)
            for t in targets for p in t.paths("aten") if t.unit.runner(p.name) is not None
            and (mode == "confirm" or p.name in t.unit.auto_paths or (str(t), p.name) in to_convert)]


def _on_meta(runs: list[tuple[Target, str, Callable, str]]) -> list[Decision]:
    return [Decision(str(t), path, None, ON_META, by) for t, path, _, by in runs]


def known_decisions(fingerprint: str | None, targets: list[Target], mode: str,
                    to_convert: set[tuple[str, str]] = frozenset(), on_meta: bool = False) -> list[Decision] | None:
    """What `decide` would answer for a subject of this `Subject.fingerprint` (None: no graph it
    could key on; `on_meta`: a meta-device model, which nothing runs), when every decision is in the
    cache; None when one would have to run."""
    runs = _runs(targets, mode, to_convert)
    if not runs or on_meta:
        return _on_meta(runs)
    if fingerprint is None:
        return None
    store = DecisionCache(fingerprint)
    out = [store.get(target, path, by) for target, path, _, by in runs]
    return None if None in out else out


def run_cached(store: DecisionCache | None, subject: Any, target: Target, path: str, runner, by: str) -> Decision:
    """The decision `store` holds for (target, path), else `runner`'s run in this process, stored when it ran
    (the TensorFlow runners, `decide_tf`: TensorFlow's runtime does not survive a fork)."""
    known = store.get(target, path, by) if store else None
    if known is not None:
        return known
    decision = run_converter(subject, target, path, runner, by)
    if store and decision.converted is not None:
        store.put(target, decision)
    return decision


def _isolated(subject: Subject, jobs: list[tuple[Target, str, Callable, str]]) -> list[Decision]:
    """Run `jobs` in forked children, one per converter family and all at once: a converter that
    kills the interpreter (a C++ abort) or hangs costs its own decision, not the report, and each
    family's imports are paid once. After a crash or a timeout the family's remaining jobs go on in
    a new child. In-process, one after the other, where fork is missing."""
    import multiprocessing
    import time
    from multiprocessing.connection import wait

    if "fork" not in multiprocessing.get_all_start_methods():
        out = []
        for i, job in enumerate(jobs):
            with step(f"converters {i + 1}/{len(jobs)}: {job[0]} via {job[1]}"):
                out.append(run_converter(subject, *job))
        return out
    timeout = float(os.environ.get("EXPORTLINT_CONVERTER_TIMEOUT") or CONVERTER_TIMEOUT)
    context = multiprocessing.get_context("fork")
    done: dict[tuple[str, str], Decision] = {}
    running = {}  # reader -> (child, the family's jobs not yet answered, deadline of the first)

    def start(pending: list) -> None:
        if pending:
            reader, writer = context.Pipe(duplex=False)
            child = context.Process(target=_child, args=(subject, pending, writer), daemon=True)
            child.start()
            writer.close()
            running[reader] = (child, pending, time.monotonic() + timeout)

    def answer(reader, decision: Decision | None, failure: str = "") -> None:
        child, pending, _ = running.pop(reader)
        target, path, _, by = pending[0]
        done[str(target), path] = decision or Decision(str(target), path, False, failure, by)
        if decision is not None and len(pending) > 1:
            running[reader] = (child, pending[1:], time.monotonic() + timeout)
            return
        child.kill()
        child.join()
        reader.close()
        start(pending[1:])

    for family in dict.fromkeys(t.family for t, *_ in jobs):
        start([job for job in jobs if job[0].family == family])
    while running:
        with step(f"converters {len(done) + 1}/{len(jobs)}: " + ", ".join(
                f"{p[0][0]} via {p[0][1]}" for _, p, _ in running.values())):
            ready = wait(list(running), timeout=max(0.0, min(d for *_, d in running.values()) - time.monotonic()))
        for reader in ready:
            try:
                answer(reader, reader.recv())
            except EOFError:
                child = running[reader][0]
                child.join()
                answer(reader, None, f"the converter ended the process ({_exit_text(child.exitcode)})")
        for reader, (_, _, deadline) in list(running.items()):
            if reader not in ready and time.monotonic() >= deadline:
                answer(reader, None, f"did not finish in {timeout:.0f} s (EXPORTLINT_CONVERTER_TIMEOUT)")
    return [done[str(t), p] for t, p, *_ in jobs]


def _exit_text(code: int | None) -> str:
    import signal

    code = code or 0
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"


def _child(subject: Subject, jobs: list, writer) -> None:
    """A converter process: its own and its C++ libraries' output goes nowhere; each decision is sent back."""
    import faulthandler

    import torch

    # GNU OpenMP's thread pool does not survive fork: a parallel region would wait forever for the
    # parent's workers. One thread runs ops inline (as DataLoader workers do).
    torch.set_num_threads(1)
    faulthandler.disable()  # a crash is reported by the parent, not dumped on the user's terminal
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    for job in jobs:
        writer.send(run_converter(subject, *job))
    writer.close()


class DecisionCache:
    """Decisions already made for a model's graphs, on disk: `$EXPORTLINT_CACHE_DIR` (default
    `~/.cache/exportlint`) / decisions / FINGERPRINT.json, keyed inside by target, path and the
    versions of the libraries that ran it (`libraries`: per family; default the family unit's) and the runners'
    code (`runners`: their module's file; default this module and the family unit's). `exportlint.cache`: JSON, atomic writes, so concurrent runs at worst both convert;
    `--no-cache` (or `EXPORTLINT_NO_CACHE=1`) turns it off."""

    def __init__(self, fingerprint: str, libraries: dict[str, tuple[str, ...]] | None = None,
                 runners: str | None = None):
        from exportlint.cache import cache_file, enabled

        self.path = cache_file("decisions", fingerprint)
        self.enabled = enabled()
        self.libraries = libraries
        self.runners = runners

    def _key(self, target: Target, path: str) -> str:
        from exportlint import __version__
        from exportlint.cache import code_digest
        from exportlint.tables.probe.harness import library_versions

        import inspect

        versions = library_versions(*(self.libraries[target.family] if self.libraries else target.unit.libraries))
        runners = (self.runners,) if self.runners else (__file__, inspect.getfile(target.unit))
        return json.dumps([__version__, code_digest(*runners), str(target), path, versions], sort_keys=True)

    def _load(self) -> dict[str, Any]:
        from exportlint.cache import read_json

        data = read_json(self.path)
        return data if isinstance(data, dict) else {}

    def get(self, target: Target, path: str, by: str) -> Decision | None:
        entry = self._load().get(self._key(target, path)) if self.enabled else None
        if not isinstance(entry, dict) or not isinstance(entry.get("converted"), bool):
            return None
        return Decision(str(target), path, entry["converted"], f"{entry.get('detail', '')} (cached)", by)

    def put(self, target: Target, decision: Decision) -> None:
        from exportlint.cache import write_json

        if not self.enabled:
            return
        data = self._load()
        data[self._key(target, decision.path)] = {"converted": decision.converted, "detail": decision.detail}
        write_json(self.path, data)


def run_converter(subject: Any, target: Target, path: str, runner, by: str) -> Decision:
    from exportlint.capture.spec import quiet, user_code

    try:
        with user_code(f"{target} {path}"), quiet():  # converters print, some from C++; stdout is the report
            converted, detail = runner(subject, target)
    except ImportError as exc:
        converted, detail = None, f"{exc.name or exc} is not installed"
    except Exception as exc:  # noqa: BLE001 - the converter's error is the answer
        converted, detail = False, first_line(exc)
    return Decision(str(target), path, converted, detail, by)


def first_line(exc: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # torch.onnx colours its errors
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:400]
