"""The capture cache: a PyTorch model's captured graphs, reused while nothing that made them changed,
so that re-checking an unchanged model (the pre-commit and CI case) neither imports the user's module
nor captures again. See docs/configuration.md ("Caches").

An entry is found by a key: the spec (a file's absolute path), the example inputs asked for
(`--input-shape`/`--input-dtype`), the options that change a capture (`--train`, `--dynamic`,
`--no-recapture`, `--script`, whether a target needs the TorchScript graph, the float16 run of
`exportlint.capture.fp16` or litert-torch's layout pass of `exportlint.capture.litert_layout`), and the versions of
Python, exportlint's capture code and the libraries that build graphs. The entry holds the graphs
(`exportlint.ir.serial`), the fingerprint that keys their converter decisions
(`decide.Subject.fingerprint`), and the content digest of every user file the capture read: the
factory's module, the user modules imported while it ran, the files in the graphs' stacks. It is
used only while each of those files has the same digest, ccache's manifest: editing any of them, or
a shape, an option, a library, recaptures. JSON that exportlint wrote, atomic writes
(`exportlint.cache`): concurrent runs at worst capture twice.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from exportlint.cache import cache_file, code_digest, digest, enabled, file_digest, read_json, write_json
from exportlint.capture.locate import EXPORTLINT_DIR, is_user_file

if TYPE_CHECKING:
    from exportlint.config import Options
    from exportlint.ir import OpGraph

# Packages whose code builds the graph besides the user's (model zoos) and torch.
LIBRARIES = ("torch", "torchvision", "timm", "transformers", "networkx", "litert-torch")
_FORMAT = 1  # bump when the entry's layout changes


class CaptureCache:
    """The entry of one (spec, inputs, capture options) on disk."""

    def __init__(self, spec: str, options: Options, shapes: list[str], dtypes: list[str]):
        self.path = cache_file("captures", digest(json.dumps(_key(spec, options, shapes, dtypes))))

    @staticmethod
    def wanted(options: Options) -> bool:
        return options.cache and enabled()

    def get(self) -> tuple[OpGraph, str | None, bool] | None:
        """The cached graph, its decision fingerprint and whether the model was on the meta device,
        if every file it was made from is unchanged."""
        from exportlint.ir.serial import graph_from_data

        entry = read_json(self.path)
        if not isinstance(entry, dict) or entry.get("format") != _FORMAT:
            return None
        files = entry.get("files")
        if not isinstance(files, dict) or any(file_digest(f) != d for f, d in files.items()):
            return None
        try:
            return graph_from_data(entry["graph"]), entry.get("fingerprint"), entry.get("on_meta") is True
        except (KeyError, TypeError, ValueError):  # an entry of another layout
            return None

    def put(self, graph: OpGraph, fingerprint: str | None, on_meta: bool, spec: str) -> None:
        from exportlint.ir.serial import graph_to_data

        files = {f: file_digest(f) for f in sorted(user_files(graph, spec))}
        if None in files.values():  # a file that vanished meanwhile: nothing to check against
            return
        write_json(self.path, {"format": _FORMAT, "files": files, "fingerprint": fingerprint, "on_meta": on_meta,
                               "graph": graph_to_data(graph)})


def _key(spec: str, options: Options, shapes: list[str], dtypes: list[str]) -> list:
    from exportlint import __version__
    from exportlint.tables.probe.harness import library_versions
    from exportlint.targets import TRACE_GRAPH

    from exportlint.capture import fp16, litert_layout
    from exportlint.capture.spec import is_file_target

    target, _, attr = spec.rpartition(":")
    where = str(Path(target).resolve()) if is_file_target(target) else [target, os.getcwd()]
    needs_trace = any(p.graph == TRACE_GRAPH for t in options.targets for p in t.paths("aten"))
    return [_FORMAT, where, attr, shapes, dtypes, options.train, [repr(d) for d in options.dynamic],
            options.recapture, options.script, needs_trace, fp16.wanted(options), litert_layout.wanted(options),
            sys.version, __version__,
            code_digest(str(EXPORTLINT_DIR / "capture"), str(EXPORTLINT_DIR / "ir")), library_versions(*LIBRARIES)]


def user_files(graph: OpGraph, spec: str) -> set[str]:
    """The source files a capture of `spec` depended on: the factory's module (installed or not),
    every user module loaded now (imported by the factory's module, or earlier: more files only
    invalidate more often), and the user files named in the graphs' locations."""
    from exportlint.capture.spec import is_file_target

    target = spec.rpartition(":")[0]
    factory = target if is_file_target(target) else getattr(sys.modules.get(target), "__file__", None)
    found = {os.path.realpath(factory)} if factory else set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.endswith(".py") and os.path.isabs(path) and is_user_file(path) \
                and not os.path.realpath(path).startswith(f"{EXPORTLINT_DIR}{os.sep}"):  # exportlint's rules, examples
            found.add(os.path.realpath(path))  # (torch.ops and torch.classes name relative files)
    found.update(os.path.realpath(p) for p in _located_files(graph) if os.path.isfile(p) and is_user_file(p))
    return found


def _located_files(graph: OpGraph) -> Iterator[str]:
    info = graph.capture
    for where in (info.failure_location, info.trace_failure_location, *info.specialization_location.values()):
        if where is not None:
            yield where.path
    for node in graph.nodes():
        for where in (node.location, *node.stack):
            if where is not None:
                yield where.path
    if info.sizes is not None:
        calls = [info.sizes.loop, *info.sizes.changed] if info.sizes.loop else info.sizes.changed
        yield from (where.path for call in calls for where in call[1:3] if where is not None)
    if info.traced is not None:
        yield from _located_files(info.traced)
