"""EXL112 against the real converter: litert_torch.convert fails on the broadcast its layout pass moves into NHWC
(a squeeze-and-excitation `x * y.expand_as(x)` between convolutions) and converts the same block without the
expand; exportlint blocks the first on TFLite and passes the second, in its static mode."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from exportlint.checks import litert_layout
from exportlint.cli import main

SPEC = "exportlint.checks.litert_layout:{}"


def _verdict(factory: str) -> tuple[bool, list[str]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["check", SPEC.format(factory), "--target", "tflite", "--target", "onnx:17", "--static",
              "--format", "json", "--exit-zero", "--no-cache"])
    doc = json.loads(out.getvalue())
    tflite = next(t for m in doc["models"] for t in m["targets"] if t["target"] == "tflite")
    return tflite["exportable"], [f["code"] for f in doc["findings"] if f["severity"] == "error"]


@pytest.mark.parametrize("factory, converts", [("_expand_then_conv", False), ("_broadcast_then_conv", True)])
def test_exportlint_blocks_tflite_exactly_where_litert_fails_on_a_transposed_broadcast(factory, converts):
    litert_torch = pytest.importorskip("litert_torch")
    model, inputs = getattr(litert_layout, factory)()
    try:
        litert_torch.convert(model, inputs)
        error = None
    except Exception as exc:  # noqa: BLE001 - the converter's answer
        error = str(exc)
    assert (error is None) is converts, error
    if error is not None:
        assert "broadcast-compatible" in error
    exportable, errors = _verdict(factory)
    assert exportable is converts
    assert ("EXL112" in errors) is not converts


BLOCK = '''\
import torch
from torch import nn


class SqueezeExcite(nn.Module):
    def __init__(self, c=16):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1)
        self.fc = nn.Sequential(nn.Linear(c, 4), nn.ReLU(), nn.Linear(4, c), nn.Sigmoid())

    def forward(self, x):
        x = self.conv1(x)
        y = self.fc(torch.flatten(x.mean((2, 3)), 1)).unflatten(1, (-1, 1, 1))
        return self.conv2(x * y.expand_as(x))


def model():
    torch.manual_seed(0)
    return SqueezeExcite().eval(), (torch.randn(1, 16, 8, 8),)
'''


def test_the_redundant_expand_fix_gives_the_same_numbers_and_a_model_litert_converts(tmp_path):
    import importlib.util

    litert_torch = pytest.importorskip("litert_torch")

    def load(path):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.model()

    before, after = tmp_path / "before.py", tmp_path / "after.py"
    before.write_text(BLOCK)
    after.write_text(BLOCK)
    with contextlib.redirect_stdout(io.StringIO()):
        main(["fix", str(after)])
    assert after.read_text() == BLOCK.replace("x * y.expand_as(x)", "x * y")
    (model, inputs), (fixed, _) = load(before), load(after)
    import torch

    assert torch.equal(model(*inputs), fixed(*inputs))
    litert_torch.convert(fixed, inputs)


def test_an_attention_mask_after_a_convolution_is_left_out_as_the_pass_leaves_it():
    """A ViT's shape: a patch convolution, then attention with a 4-d mask expand. The real layout pass
    transposes nothing there, and exportlint does not import litert-torch to learn it."""
    import torch
    import torch.nn.functional as F

    from exportlint.capture.litert_layout import _broadcasts, _run

    class Patches(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 4, stride=4)

        def forward(self, x):
            t = self.conv(x).flatten(2).transpose(1, 2)[:, None]  # 1 x 1 x 4 x 8
            mask = torch.ones(1, 1, 1, 4, dtype=torch.bool).expand(1, 2, 4, 4)
            return F.scaled_dot_product_attention(t.expand(1, 2, 4, 8), t.expand(1, 2, 4, 8), t.expand(1, 2, 4, 8),
                                                  attn_mask=mask)

    program = torch.export.export(Patches().eval(), (torch.randn(1, 3, 8, 8),), strict=False)
    masks = [n.name for n in program.graph.nodes if n.op == "call_function" and "expand" in str(n.target)]
    assert masks and not _broadcasts(program)
    assert not set(_run(program)) & set(masks)
