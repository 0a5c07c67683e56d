"""Deciding conversion paths with the real converters (`exportlint.decide`), and the decision cache."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from exportlint.decide import NUMERICS_CAVEAT, Subject, decide
from exportlint.targets import parse_target

ONNX18 = [parse_target("onnx:18")]


def _subject(width: int = 8) -> Subject:
    model = torch.nn.Sequential(torch.nn.Linear(width, 4), torch.nn.ReLU()).eval()
    inputs = (torch.randn(2, width),)
    return Subject(model, inputs, torch.export.export(model, inputs), torch.jit.trace(model, inputs))


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPORTLINT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("EXPORTLINT_NO_CACHE")
    return tmp_path


def test_static_runs_nothing_and_auto_runs_both_onnx_exporters():
    assert decide(_subject(), ONNX18, "static") == []
    runs = decide(_subject(), ONNX18 + [parse_target("coreml:iOS16")], "auto")
    assert {(d.target, d.path, d.converted, d.by) for d in runs} == {
        ("onnx:18", "dynamo", True, "translation"), ("onnx:18", "torchscript", True, "translation")}


class _Noisy(torch.nn.Module):
    def forward(self, x):
        return x + torch.rand_like(x)  # ONNX RandomUniformLike: runs, draws other numbers


def test_a_model_that_converts_and_runs_with_other_outputs_is_converted_with_the_caveat():
    """The labels' criterion is "converts and runs": outputs that differ are a warning's business."""
    model, inputs = _Noisy().eval(), (torch.randn(2, 8),)
    subject = Subject(model, inputs, torch.export.export(model, inputs), torch.jit.trace(model, inputs))
    runs = decide(subject, ONNX18, "auto", cache=False)
    assert {d.path for d in runs} == {"dynamo", "torchscript"}
    for d in runs:
        assert d.converted, d.detail
        assert d.detail.startswith(NUMERICS_CAVEAT) and "output differs from PyTorch" in d.detail


class _SelfAttention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = torch.nn.MultiheadAttention(16, 4, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


def test_the_torchscript_exporter_is_given_the_model_as_users_give_it():
    """A plain trace keeps nn.MultiheadAttention's fused fast path, which the exporter fails on; the exporter's
    own trace (of the module, in its export context) leaves it, and converts."""
    model, inputs = _SelfAttention().eval(), (torch.rand(2, 5, 16),)
    traced = torch.jit.trace(model, inputs, check_trace=False, strict=False)
    runs = decide(Subject(model, inputs, None, traced), [parse_target("onnx:17")], "auto", cache=False)
    (run,) = [d for d in runs if d.path == "torchscript"]
    assert run.converted, run.detail


def test_core_ml_trace_path_traces_as_users_do():
    """`ct.convert(torch.jit.trace(model, inputs))`: the default trace's sanity check fails on
    nn.MultiheadAttention's fast path, exportlint's own (unchecked) trace would not."""
    model, inputs = _SelfAttention().eval(), (torch.rand(2, 5, 16),)
    traced = torch.jit.trace(model, inputs, check_trace=False, strict=False)
    (run,) = decide(Subject(model, inputs, None, traced), [parse_target("coreml:iOS16")], "auto", cache=False,
                    to_convert={("coreml:iOS16", "trace")})
    assert run.path == "trace" and run.converted is False and "TracingCheckError" in run.detail


class _NonzeroPool(torch.nn.Module):
    def forward(self, x):
        y = x.flatten()
        return y[torch.nonzero(y > 0).squeeze(1)].sum()


def test_the_dynamo_exporter_gets_the_module_where_the_captured_program_fails():
    """Exporting the captured program fails to decompose nonzero's unbacked size at opset 17; the exporter's own
    capture of the module, which is what users call, converts."""
    model, inputs = _NonzeroPool().eval(), (torch.rand(2, 8),)
    runs = decide(Subject(model, inputs, torch.export.export(model, inputs)), [parse_target("onnx:17")], "auto",
                  cache=False)
    (dynamo,) = [d for d in runs if d.path == "dynamo"]
    assert dynamo.converted, dynamo.detail


class _CachesOnFirstCall(torch.nn.Module):
    """LeViT's attention biases: computed from a parameter on the first call in eval mode, then reused."""

    def __init__(self):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.ones(4))
        self.cache = {}

    def forward(self, x):
        if "bias" not in self.cache:
            self.cache["bias"] = self.bias * 2
        return x + self.cache["bias"]


def test_the_trace_paths_get_the_module_before_exportlint_ran_it():
    """The user traces a fresh module, whose trace check meets the cached tensor that requires grad and fails;
    after exportlint's runs under no_grad the cache holds a plain tensor and the trace would pass."""
    from exportlint.options import Options
    from exportlint.run import capture_module

    model, inputs = _CachesOnFirstCall().eval(), (torch.rand(2, 4),)
    graph, subject = capture_module(model, inputs, "m", Options(targets=[parse_target("coreml:iOS16")]))
    assert graph.capture.traced is not None and model.cache  # exportlint ran it
    with pytest.raises(RuntimeError, match="requires grad as a constant"):
        subject.user_trace()
    with pytest.raises(RuntimeError, match="requires grad as a constant"):
        torch.jit.trace(_CachesOnFirstCall().eval(), inputs)  # what the user meets
    torch.jit.trace(model, inputs)  # the module exportlint ran: no failure to see


def test_a_decision_is_reused_for_the_same_graphs_only(cache_dir):
    first = decide(_subject(), ONNX18, "auto")
    assert not any(d.detail.endswith("(cached)") for d in first)
    again = decide(_subject(), ONNX18, "auto")
    assert [(d.path, d.converted) for d in again] == [(d.path, d.converted) for d in first]
    assert all(d.detail.endswith("(cached)") for d in again)
    other = decide(_subject(width=16), ONNX18, "auto")  # another graph: decided afresh
    assert not any(d.detail.endswith("(cached)") for d in other)
    assert not any(d.detail.endswith("(cached)") for d in decide(_subject(), ONNX18, "auto", cache=False))
    assert len(list((cache_dir / "decisions").glob("*.json"))) == 2  # one file per pair of graphs


def test_concurrent_writers_leave_a_readable_cache(cache_dir):
    script = ("import torch; from exportlint.decide import NUMERICS_CAVEAT, Subject, decide; from exportlint.targets import parse_target;"
              "m = torch.nn.Linear(8, 4).eval(); x = (torch.randn(2, 8),);"
              "decide(Subject(m, x, torch.export.export(m, x), torch.jit.trace(m, x)), [parse_target('onnx:18')], 'auto')")
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    assert [p.wait(timeout=600) for p in procs] == [0, 0]
    files = list((cache_dir / "decisions").glob("*.json"))
    assert len(files) == 1 and len(json.loads(files[0].read_text())) == 2
    assert not list((cache_dir / "decisions").glob("*.tmp"))


class _Dies(torch.nn.Module):
    """Fine when captured; then its forward (run by the converters) kills or stalls the process."""

    how = None

    def forward(self, x):
        if self.how == "abort":
            import os

            os.abort()
        if self.how == "hang":
            import time

            time.sleep(600)
        return x + 1


@pytest.mark.parametrize("how, timeout, expected", [("abort", "600", "ended the process (signal SIGABRT)"),
                                                    ("hang", "15", "did not finish in 15 s")])
def test_a_converter_that_kills_or_stalls_its_process_costs_only_its_decisions(how, timeout, expected,
                                                                                monkeypatch):
    monkeypatch.setenv("EXPORTLINT_CONVERTER_TIMEOUT", timeout)
    model, inputs = _Dies().eval(), (torch.randn(2, 3),)
    program, traced = torch.export.export(model, inputs), torch.jit.trace(model, inputs)
    model.how = how
    runs = decide(Subject(model, inputs, program, traced), ONNX18, "auto", cache=False)
    # each path ran in its own process after the one before died; this process lives on
    assert [(d.path, d.converted) for d in runs] == [("dynamo", False), ("torchscript", False)]
    assert all(expected in d.detail for d in runs), runs
