"""Models too large to materialise: a factory that builds on the meta device, and the
`path/to/config.json` spec (a transformers architecture without weights)."""

from __future__ import annotations

import json

MODEL = """
import torch
from torch import nn


def net():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.Hardswish(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))


def real():
    torch.manual_seed(0)
    return net().eval(), (torch.randn(1, 3, 32, 32),)


def meta():
    with torch.device("meta"):
        return net().eval(), (torch.randn(1, 3, 32, 32),)


def meta_wrong_inputs():
    with torch.device("meta"):
        return net().eval(), (torch.randn(1, 4, 32, 32),)
"""

LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32, "intermediate_size": 64,
         "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 64,
         "max_position_embeddings": 64, "tie_word_embeddings": False}


def _check(spec: str, decide: str):
    from exportlint.config import Options
    from exportlint.run import check_specs
    from exportlint.targets import parse_target

    targets = [parse_target(t) for t in ("onnx:17", "coreml:iOS16", "tflite")]
    return check_specs([spec], Options(targets=targets, decide=decide), [], [])


def _findings(report) -> list[tuple]:
    return sorted((f.code, f.target, f.op, f.severity.value, str(f.location), f.paths) for f in report.findings)


def test_a_meta_device_factory_is_checked_by_the_tables_and_no_converter_runs(tmp_path):
    from exportlint.decide import ON_META

    path = tmp_path / "net.py"
    path.write_text(MODEL)
    meta = _check(f"{path}:meta", "auto")
    assert meta.models[0].capture.ok and meta.models[0].capture.method.startswith("torch.export")
    decisions = meta.models[0].confirmations
    assert decisions and all(d.converted is None and d.detail == ON_META for d in decisions)
    real = _check(f"{path}:real", "static")  # the tables alone, as for the meta model
    assert _findings(meta) == _findings(real)
    assert [t.exportable for t in meta.models[0].targets] == [t.exportable for t in real.models[0].targets]


def test_example_inputs_a_meta_model_cannot_take_are_a_usage_error(tmp_path):
    """Checked after the captures fail (a fake-tensor run costs an export's time), as before them for real models."""
    path = tmp_path / "net.py"
    path.write_text(MODEL)
    findings = _check(f"{path}:meta_wrong_inputs", "static").findings
    assert [f.code for f in findings] == ["EXL003"]
    assert "the model fails on the example inputs: RuntimeError" in findings[0].message


def test_a_transformers_config_builds_on_meta_without_weights(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(LLAMA))
    report = _check(str(config), "auto")
    model = report.models[0]
    assert model.capture.ok and "aten.embedding.default" in model.graph.by_op
    assert all(d.converted is None for d in model.confirmations)
    bigger = tmp_path / "big" / "config.json"
    bigger.parent.mkdir()
    bigger.write_text(json.dumps({**LLAMA, "hidden_size": 256, "intermediate_size": 1024, "vocab_size": 4096}))
    assert _findings(_check(str(bigger), "auto")) == _findings(report)  # the size changes no finding
