"""ONNX Runtime's mobile EPs (`ort:nnapi`, `ort:coreml`, `ort:coreml-nn`): the tables against ONNX Runtime's
own mobile usability checker, run on the same models."""

from __future__ import annotations

import json
import re
from functools import cache

import pytest

from conftest import ROOT, check

pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

EPS = ("nnapi", "coreml", "coreml-nn")


class Block(torch.nn.Module):
    """Conv, BatchNorm, hard-swish (HardSigmoid after ORT's optimizer: NNAPI leaves it to the CPU), mean, linear."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.fc = torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Linear(8, 4)

    def forward(self, x):
        y = torch.nn.functional.hardswish(self.bn(self.conv(x)))
        return self.fc(y.mean((2, 3)))


@cache
def _subject():
    from exportlint.decide import Subject

    model, inputs = Block().eval(), (torch.randn(1, 3, 16, 16),)
    return Subject(model, inputs, torch.export.export(model, inputs))


def _summary(findings, target: str) -> str:
    (summary,) = [f.message for f in findings if f.target and str(f.target) == target
                  and "delegation summary" in f.message]
    return summary


def test_the_support_lists_table_regenerates_from_the_installed_onnxruntime():
    from exportlint.tables.generate.onnx_ort import build_table

    committed = json.loads((ROOT / "rules" / "tables" / "onnx-ort.json").read_text())
    fresh = build_table()
    for table in (committed, fresh):
        table["provenance"].pop("generated")
    assert fresh == committed


@pytest.mark.parametrize("ep", EPS)
def test_a_model_file_delegates_as_the_usability_checker_says(ep, tmp_path):
    """On an ONNX file the table and the checker judge the same nodes: same count taken, same partitions."""
    import onnx
    from onnxruntime.tools.onnx_model_utils import ModelProtoWithShapeInfo

    from exportlint.capture.onnx_file import capture_onnx
    from exportlint.families.onnx import export
    from exportlint.families.ort import partitions

    path = tmp_path / "block.onnx"
    onnx.save(export(_subject(), 17), path)
    info = partitions(ModelProtoWithShapeInfo(path).model_with_shape_info, ep)
    summary = _summary(check(capture_onnx(path), [f"ort:{ep}"], decide="static"), f"ort:{ep}")
    taken, total = map(int, re.search(r"(\d+) of (\d+) op nodes", summary).groups())
    assert (taken, total) == (info.num_supported_nodes, info.num_nodes), summary
    if taken < total:
        assert f"in {info.num_partitions} partition(s)" in summary, summary


def test_a_pytorch_model_falls_back_where_the_checker_leaves_nodes_to_the_cpu():
    """The ATen table (probes through the checker) against the checker on the whole exported model."""
    from exportlint.capture.pytorch import capture_torch
    from exportlint.families.ort import check_partitions
    from exportlint.options import Options
    from exportlint.targets import parse_target

    subject = _subject()
    graph = capture_torch(subject.model, subject.inputs, Options(), "block")
    for ep in EPS:
        target = f"ort:{ep}"
        converted, detail = check_partitions(subject, parse_target(target))
        findings = [f for f in check(graph, [target], decide="static") if f.code == "EXL101"]
        fallback = {f.op for f in findings if f.severity.value == "warning" and "falls back" in f.message}
        assert converted and not [f for f in findings if f.blocking]
        left = re.search(r"left to the CPU EP: (.*)$", detail)
        assert bool(fallback) == bool(left), (target, detail, fallback)
        if left and "HardSigmoid" in left.group(1):
            assert "aten.hardswish.default" in fallback, (target, fallback)


def test_the_cli_names_the_fallback_at_the_users_line():
    from conftest import run_cli

    done = run_cli("check", "examples/mobilenet_block.py:build", "-t", "ort:nnapi", "--static")
    lines = [ln for ln in done.stdout.splitlines() if "EXL101" in ln and "falls back" in ln]
    assert done.returncode == 0 and lines, done.stdout + done.stderr
    assert all(re.match(r"examples/mobilenet_block\.py:\d+:\d+: EXL101 \[ort:nnapi dynamo\]", ln) for ln in lines)
