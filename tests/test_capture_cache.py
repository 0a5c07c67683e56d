"""The capture cache (`exportlint.capture.cache`): graphs round-trip through JSON, an unchanged model
is checked without importing it, and any change to what made the graph recaptures."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT, capture_example, check

MODEL = """
import torch
from torch import nn
from helper import WIDTH


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(WIDTH, 4)

    def forward(self, x):
        return torch.relu(self.fc(x)).view(x.size(0), -1)


def build():
    return Net().eval(), (torch.randn(2, WIDTH),)
"""


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPORTLINT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("EXPORTLINT_NO_CACHE")
    return tmp_path / "cache"


@pytest.fixture
def model_file(tmp_path):
    (tmp_path / "helper.py").write_text("WIDTH = 8\n")
    path = tmp_path / "net.py"
    path.write_text(MODEL)
    return path


@pytest.fixture
def captures(monkeypatch):
    """The specs `run.capture` captured (the cache missed), in order."""
    import exportlint.run as run

    seen: list[str] = []
    real = run.capture

    def spy(spec, *args):
        seen.append(spec)
        return real(spec, *args)

    monkeypatch.setattr(run, "capture", spy)
    return seen


def _check(spec: str, shapes=(), **options) -> str:
    from exportlint.config import Options
    from exportlint.report import render
    from exportlint.run import check_specs
    from exportlint.targets import parse_target

    opts = Options(targets=[parse_target("onnx:17"), parse_target("coreml:iOS16")], decide="static", **options)
    return render(check_specs([spec], opts, list(shapes), []), "json")


def test_a_graph_round_trips_with_its_capture_facts():
    from exportlint.ir.serial import graph_from_data, graph_to_data

    graph = capture_example("shape_head.py:build")
    assert graph.capture.sizes.changed  # the pass at other sizes is kept too
    again = graph_from_data(json.loads(json.dumps(graph_to_data(graph))))
    assert [vars(n) for n in again.nodes(None)] == [vars(n) for n in graph.nodes(None)]
    assert list(again.nx.edges(keys=True, data="tensor")) == list(graph.nx.edges(keys=True, data="tensor"))
    assert again.capture.sizes == graph.capture.sizes
    assert check(again, ["onnx:17", "tflite"]) == check(graph, ["onnx:17", "tflite"])


def test_an_unchanged_model_is_checked_from_the_cache_and_any_change_recaptures(cache_dir, model_file, captures):
    spec = f"{model_file}:build"
    first = _check(spec)
    assert captures == [spec] and len(list((cache_dir / "captures").glob("*.json"))) == 1
    assert _check(spec) == first and captures == [spec]  # cached: same report, no capture

    model_file.write_text(MODEL.replace("torch.relu", "torch.sigmoid"))  # the factory's module
    _check(spec)
    assert len(captures) == 2
    (model_file.parent / "helper.py").write_text("WIDTH = 8  # edited\n")  # a module it imports
    _check(spec)
    assert len(captures) == 3
    _check(spec, shapes=["3,8"])  # other example inputs
    assert len(captures) == 4
    _check(spec, recapture=False)  # an option that changes the capture
    assert len(captures) == 5
    _check(spec, cache=False)  # --no-cache
    assert len(captures) == 6
    _check(spec)
    _check(spec, shapes=["3,8"])
    assert len(captures) == 6  # each of those is cached now


def test_an_entry_that_is_not_ours_is_ignored(cache_dir, model_file, captures):
    spec = f"{model_file}:build"
    first = _check(spec)
    entry, = (cache_dir / "captures").glob("*.json")
    for junk in ("not json", "[]", json.dumps({"format": 1, "files": {}, "graph": {"nodes": 3}})):
        entry.write_text(junk)
        assert _check(spec) == first
    assert len(captures) == 4


def test_concurrent_runs_share_one_entry(cache_dir, model_file, captures):
    spec = f"{model_file}:build"
    command = [sys.executable, "-m", "exportlint", "check", spec, "--static", "-q", "--format", "json",
               "--target", "onnx:17", "--target", "coreml:iOS16"]  # _check's targets: the same capture key
    env = {"EXPORTLINT_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(ROOT)}
    script = textwrap.dedent(f"""
        import os, subprocess, sys
        env = {{**os.environ, **{env!r}}}
        env.pop("EXPORTLINT_NO_CACHE", None)
        procs = [subprocess.Popen({command!r}, env=env, stdout=subprocess.PIPE) for _ in range(3)]
        outs = [p.communicate(timeout=600)[0] for p in procs]
        sys.exit(len(set(outs)) != 1 or any(p.returncode not in (0, 1) for p in procs))
    """)
    assert subprocess.run([sys.executable, "-c", script], timeout=900).returncode == 0
    assert len(list((cache_dir / "captures").glob("*.json"))) == 1
    assert not list((cache_dir / "captures").glob("*.tmp"))
    _check(spec)
    assert captures == []  # the entry they wrote serves this run


def test_a_meta_device_model_is_cached_with_its_decisions_not_run(cache_dir, tmp_path, captures):
    from exportlint.config import Options
    from exportlint.decide import ON_META
    from exportlint.run import check_specs
    from exportlint.targets import parse_target

    path = tmp_path / "meta_net.py"
    path.write_text("import torch\n\ndef build():\n    with torch.device('meta'):\n"
                    "        return torch.nn.Linear(8, 4).eval(), (torch.randn(2, 8),)\n")
    options = Options(targets=[parse_target("onnx:17")])  # auto: the ONNX translation would run
    first, again = (check_specs([f"{path}:build"], options, [], []) for _ in range(2))
    assert len(captures) == 1
    assert [d.detail for d in again.models[0].confirmations] == [d.detail for d in first.models[0].confirmations]
    assert {d.detail for d in again.models[0].confirmations} == {ON_META}
