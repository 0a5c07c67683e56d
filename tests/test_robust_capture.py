"""Issue 11 with models that run (torch in-process, TensorFlow in one subprocess): user code cannot
corrupt the output or fake success, locations in library models, the memory of the passes at doubled sizes, and
no framework noise on stderr."""

from __future__ import annotations

import json
import resource
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from exportlint.cli import main

MODELS = '''\
import os
import sys

import torch
import torch.nn.functional as F

print("printed at import")


class Net(torch.nn.Module):
    def forward(self, x):
        print("printed in forward")
        return F.hardswish(x)


def good():
    print("printed by the factory")
    os.write(1, b"written to fd 1\\n")
    return Net(), (torch.randn(2, 3),)


def exits_3():
    sys.exit(3)


def exits_0():
    sys.exit(0)


def interrupted():
    raise KeyboardInterrupt


def wrong_inputs():
    return torch.nn.Linear(4, 2), (torch.randn(2, 3),)


def branchy():
    class Branchy(torch.nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return torch.relu(x)
            return -x

    return Branchy(), (torch.ones(2, 3),)
'''
BAD = {"m.py:exits_3": "the model's code called sys.exit(3)",
       "m.py:exits_0": "the model's code called sys.exit(0)",
       "m.py:interrupted": "KeyboardInterrupt while running the model's code",
       "m.py:wrong_inputs": "the model fails on the example inputs: RuntimeError"}


@pytest.fixture
def models(tmp_path, monkeypatch):
    (tmp_path / "m.py").write_text(MODELS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_user_code_cannot_corrupt_stdout_or_exit(fmt, models, capfd):
    """Prints (Python and fd 1) went before the JSON/SARIF document; sys.exit(0) gave a silent exit 0,
    sys.exit(3) and KeyboardInterrupt ended the run. Now stdout is the document, each is an EXL003
    finding naming its spec, and the good model reports."""
    rc = main(["check", "m.py:good", *BAD, "--format", fmt, "--no-recapture"])
    out, err = capfd.readouterr()
    assert rc == 1 and "Traceback" not in out + err
    doc = json.loads(out)
    for noise in ("printed at import", "printed by the factory", "written to fd 1", "printed in forward"):
        assert noise in err and noise not in out
    if fmt == "json":
        messages = {f["model"]: f["message"] for f in doc["findings"] if f["code"] == "EXL003"}
        assert {m: msg.removeprefix(f"{m}: ") for m, msg in messages.items()}.keys() == BAD.keys()
        for spec, want in BAD.items():
            assert messages[spec].startswith(f"{spec}: {want}")
        assert doc["models"][0]["model"] == "m.py:good" and doc["models"][0]["capture"]["ok"]
        assert [t["exportable"] for m in doc["models"] for t in m["targets"]] == [True, False, False, False, False]
    else:
        run = doc["runs"][0]
        assert sorted(r["ruleId"] for r in run["results"] if r["level"] != "note") == ["EXL003"] * 4
        assert [m["model"] for m in run["properties"]["models"]] == ["m.py:good", *BAD]


def test_jit_trace_fallback_prints_no_graph_dumps(models, capfd):
    """A failed torch.export printed its partial graph (~37 lines) before the jit.trace fallback."""
    rc = main(["check", "m.py:branchy", "--no-recapture"])
    out, err = capfd.readouterr()
    assert rc == 0 and "captured with torch.jit.trace" in out  # the TorchScript exporter converts it
    assert "def forward" not in out + err and err.strip() == "printed at import", err


def test_bert_findings_point_into_transformers_and_name_the_call_site(tmp_path, monkeypatch, capfd):
    """All findings of a transformers model landed on the wrapper line that calls it; the attention
    of each layer now is at modeling_bert.py's line, with the module path and the user's line."""
    (tmp_path / "bert.py").write_text(textwrap.dedent('''\
        import torch
        from transformers import BertConfig, BertModel


        class Wrapper(torch.nn.Module):
            def __init__(self):
                super().__init__()
                config = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                    intermediate_size=37, max_position_embeddings=32)
                self.bert = BertModel(config)

            def forward(self, ids):
                return self.bert(ids).last_hidden_state


        def build():
            torch.manual_seed(0)
            return Wrapper().eval(), (torch.randint(0, 64, (1, 8)),)
    '''))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["check", "bert.py:build", "--target", "onnx:13", "--no-recapture", "--format", "json"]) == 1
    findings = [f for f in json.loads(capfd.readouterr().out)["findings"]
                if f["op"] == "aten.scaled_dot_product_attention.default"]
    assert [f["module"] for f in findings] == ["bert.encoder.layer.0.attention.self",
                                              "bert.encoder.layer.1.attention.self"]
    for f in findings:
        assert f["location"]["path"].endswith("transformers/models/bert/modeling_bert.py")
        assert f["called_from"] == {"path": "bert.py", "line": 13}
    assert main(["check", "bert.py:build", "--target", "onnx:13", "--no-recapture"]) == 1
    lines = [ln for ln in capfd.readouterr().out.splitlines() if ": EXL101 [onnx:13 dynamo] aten.scaled_dot" in ln]
    # both layers' findings are at one library line: one grouped line, counted (JSON keeps both)
    assert len(lines) == 1 and "(2 times)" in lines[0] and lines[0].endswith("called from bert.py:13)")
    assert "(in bert.encoder.layer.0.attention.self, called from bert.py:13)" in lines[0]


def test_the_pass_at_doubled_sizes_allocates_nothing_of_them():
    """Real forward passes at doubled sizes took 1.0 GB -> 6.5 GB peak for 8x3x1024x1024: the passes of
    `exportlint.capture.sizes` run on fake tensors, and find the frozen pooling kernel all the same."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensor

    from exportlint.capture.sizes import grown_inputs, size_run

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 16, 3, padding=1)

        def forward(self, x):
            y = self.conv(x)
            return torch.nn.functional.avg_pool2d(y, y.shape[-1])

    model, inputs = Net().eval(), (torch.randn(4, 3, 512, 512),)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    (grown,), _ = grown_inputs(model, inputs)
    assert isinstance(grown, FakeTensor) and tuple(grown.shape) == (8, 3, 1024, 1024)
    run, _ = size_run(model, inputs)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert run.there == "8x3x1024x1024"
    assert [(call, changed) for call, _, _, changed in run.changed] == [("avg_pool2d", (("kernel_size", 512, 1024),))]
    assert grown_mb < 300  # real doubled tensors: 100 MB input + 2 x 540 MB activations


def test_keras_file_quiet_and_located(tmp_path):
    """In one subprocess (TensorFlow is imported fresh): no TensorFlow banner on stderr, no finding
    located in exportlint's own files (all were at exportlint/run.py:67:9), and `random.keras` (it
    exists, but is no zip) is a precise EXL003 finding while the good models report. The factory
    also saves its model as `m.keras`, checked next in the same run."""
    (tmp_path / "make.py").write_text(textwrap.dedent('''\
        from pathlib import Path

        import keras


        def build():
            inputs = keras.Input((8, 8, 3))
            x = keras.layers.Conv2D(4, 3, name="my_conv")(inputs)
            model = keras.Model(inputs, keras.layers.Activation("gelu")(x))
            model.save(Path(__file__).with_name("m.keras"))
            return model
    '''))
    (tmp_path / "random.keras").write_bytes(b"\x00\x01 not a zip" * 20)
    result = run_cli("check", "make.py:build", "m.keras", "random.keras", "--target", "coreml:iOS15",
                     "--format", "json", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr == "", result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [f["message"] for f in findings if f["code"] == "EXL003"] == [
        "random.keras: not a Keras archive (a .keras file is a zip file)"]
    located = [f["location"]["path"] for f in findings if f["location"]]
    own = ROOT / "exportlint"
    assert not [p for p in located if str(Path(p).resolve()).startswith(str(own)) or "/bin/" in p], located
    assert {f["model"] for f in findings if f["code"] == "EXL101"} == {"make.py:build", "m.keras"}


@pytest.mark.parametrize("kind", ["invalid", "valid"])
def test_exl003_examples(kind, tmp_path, monkeypatch, capfd):
    """EXL003's examples, run as `file.py:build` specs: a failing one is at its marked line."""
    from exportlint.engine.registry import all_rules

    monkeypatch.chdir(tmp_path)
    for i, example in enumerate(getattr(all_rules()["EXL003"], kind)):
        (tmp_path / f"ex{i}.py").write_text(example.source)
        rc = main(["check", f"ex{i}.py:build", "--format", "json", "--no-recapture"])
        findings = [f for f in json.loads(capfd.readouterr().out)["findings"] if f["code"] == "EXL003"]
        if kind == "valid":
            assert rc == 0 and not findings
            continue
        _, lines = example.expected_lines("EXL003")
        assert rc == 1 and [f["location"]["line"] for f in findings] == sorted(lines), findings


def test_inputs_that_cannot_fit_are_a_usage_error(models, capfd):
    """A huge --input-shape ended in the allocator's error."""
    assert main(["check", "m.py:good", "--input-shape", "100000,100000,100"]) == 2
    out, err = capfd.readouterr()
    (line,) = [ln for ln in err.splitlines() if "exportlint" in ln]
    assert out == "" and "--input-shape 100000,100000,100: the inputs alone take 3725.3 GB" in line
