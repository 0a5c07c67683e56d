"""EXL201 from one capture: the model's forward passes at the example and at doubled sizes
(`exportlint.capture.sizes`), with the real torch.export run once."""

from __future__ import annotations

import functools
import inspect

import torch

from conftest import check
from exportlint.capture.pytorch import capture_torch
from exportlint.options import Options


def _exl201(model, inputs, name="m"):
    graph = capture_torch(model.eval(), inputs, Options(), name)
    return graph, [f for f in check(graph, ["tflite"]) if f.code == "EXL201"]


def _line(cls, needle: str) -> int:
    source, start = inspect.getsourcelines(cls)
    return start + next(i for i, text in enumerate(source) if needle in text)


def test_torch_export_runs_once(monkeypatch):
    exports = []
    real = torch.export.export

    def counted(*args, **kwargs):
        exports.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.export, "export", counted)

    class Head(torch.nn.Module):
        def forward(self, x):
            return x.view(x.size(0), -1)

    graph, found = _exl201(Head(), (torch.randn(2, 3, 4),))
    assert len(exports) == 1
    assert [f.location.line for f in found] == [_line(Head, "x.view")] and "size=[2, -1]" in found[0].message
    assert found[0].op == "aten.view.default"  # the graph's node of that call names it


class _ExportBranch(torch.nn.Module):
    """Like transformers' masks: a size-derived tensor built only when exporting."""

    def forward(self, x):
        if torch.compiler.is_exporting():
            mask = torch.ones(x.shape[1], x.shape[1]).tril()
            return mask @ x
        return x


def test_the_passes_take_the_branch_torch_export_takes():
    _, found = _exl201(_ExportBranch(), (torch.randn(2, 8, 8),))
    assert [f.location.line for f in found] == [_line(_ExportBranch, "torch.ones")]
    assert "size=[8, 8]" in found[0].message and "size=[16, 16]" in found[0].message


class _Cached(torch.nn.Module):
    @functools.lru_cache
    def grid(self, n: int) -> torch.Tensor:
        return torch.arange(n)

    def forward(self, x):
        return x + self.grid(x.shape[-1])


def test_a_cache_keyed_by_the_size_is_a_change_with_the_size():
    _, found = _exl201(_Cached(), (torch.randn(2, 8),))
    (loop,) = found  # the example size's grid comes from the cache, the doubled one is computed
    assert loop.location.line == _line(_Cached, "torch.arange")
    assert "arange runs 0x for input 2x8 and 1x for 4x16" in loop.message


def test_calls_inside_torch_modules_are_not_the_users():
    class Attention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = torch.nn.MultiheadAttention(16, 2, batch_first=True)

        def forward(self, x):
            return self.attn(x, x, x)[0].flatten(1)

    _, found = _exl201(Attention(), (torch.randn(2, 5, 16),))
    assert found == []  # MultiheadAttention's own views of the batch size are torch's business


def test_a_loop_over_a_size_is_reported_once_at_its_line():
    class Rows(torch.nn.Module):
        def forward(self, x):
            out = torch.zeros_like(x[:, 0])
            for i in range(x.size(1)):
                out = out + x[:, i]
            return out

    _, found = _exl201(Rows(), (torch.randn(2, 4, 8),))
    loops = [f for f in found if "runs" in f.message]
    assert len(loops) == 1 and "runs 4x" in loops[0].message and "8x" in loops[0].message
    assert loops[0].location.line == _line(Rows, "out = out + x[:, i]")


def test_a_meta_device_model_is_checked_for_frozen_sizes():
    with torch.device("meta"):
        model, inputs = torch.nn.Linear(8, 8), (torch.randn(4, 3, 8),)

    class Flat(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = model

        def forward(self, x):
            return self.lin(x).reshape(x.shape[0] * x.shape[1], 8)

    _, found = _exl201(Flat(), inputs)
    assert [f.location.line for f in found] == [_line(Flat, ".reshape(")]
    assert "shape=[12, 8]" in found[0].message


def test_training_mode_runs_no_extra_pass():
    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = torch.nn.BatchNorm1d(3)

        def forward(self, x):
            return self.bn(x).view(x.size(0), -1)

    model = Head()
    graph = capture_torch(model, (torch.randn(2, 3, 4),), Options(train=True), "m")
    assert graph.capture.sizes is None and "training mode" in graph.capture.sizes_skipped
    assert int(model.bn.num_batches_tracked) == 0  # neither pass moved the statistics


def test_a_library_line_names_the_users_call_and_gets_no_fix():
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)

    class Wrap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = BertModel(config)

        def forward(self, x):
            return self.bert(inputs_embeds=x).last_hidden_state

    torch.manual_seed(0)
    _, found = _exl201(Wrap(), (torch.randn(1, 8, 16),))
    in_library = [f for f in found if "/transformers/" in f.location.path]
    assert in_library and all(f.fix is None for f in in_library)
    assert {f.called_from.line for f in in_library} == {_line(Wrap, "self.bert(inputs_embeds=x)")}
