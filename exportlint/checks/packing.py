"""EXL301: pack_padded_sequence / pad_packed_sequence on the inference path."""

from __future__ import annotations

import linecache
from typing import Iterable

from exportlint.engine.rule import Context, Example, Finding, GraphRule, Severity
from exportlint.ir import OpGraph

_PACKING = ("pack_padded_sequence", "pad_packed_sequence", "PackedSequence")


def _packed_lstm():
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(4, 8, batch_first=True)

        def forward(self, x, lengths):
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)  # expect: EXL301
            out, _ = self.lstm(packed)
            return pad_packed_sequence(out, batch_first=True)[0]  # expect: EXL301

    return Encoder(), (torch.randn(2, 5, 4), torch.tensor([5, 3]))


def _padded_lstm():
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(4, 8, batch_first=True)

        def forward(self, x, lengths):
            out, _ = self.lstm(x)
            mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]
            return out * mask[..., None]

    return Encoder(), (torch.randn(2, 5, 4), torch.tensor([5, 3]))


class PackedSequenceInInference(GraphRule):
    """
    ## What it does
    Reports `pack_padded_sequence`, `pad_packed_sequence` and `PackedSequence` reached by the model in
    eval mode, from the packing ops in the captured graph, or from the capture failure they cause.

    ## Why is this bad?
    Packing sorts the batch by length and runs the RNN over a data-dependent number of steps per
    sample: `torch.export` cannot capture it, so the ONNX exporter, litert-torch and coremltools
    cannot start from it. `torch.jit.trace` captures it with the example lengths frozen into the
    graph: the exported model is wrong for other lengths. Packing only saves compute in training.

    ## Example
    ```python
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, _ = self.lstm(packed)
    out, _ = pad_packed_sequence(out, batch_first=True)
    ```

    ## Use instead
    ```python
    out, _ = self.lstm(x)                      # padded batch, no packing at inference
    mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]
    out = out * mask[..., None]                # or gather the last valid step per sample
    ```
    Keep packing in the training loop if it helps there (`if self.training:`).

    ## Fix safety
    No automatic fix: a padded run of a unidirectional RNN matches the packed one on the valid steps
    only; a bidirectional RNN's backward direction sees the padding.
    """

    code = "EXL301"
    slug = "packed-sequence-in-inference"
    summary = "pack_padded_sequence/pad_packed_sequence in eval-mode forward: export fails or freezes lengths."
    # A warning: whether a path converts is EXL001's and EXL101's verdict (the TorchScript paths
    # convert a trace); this rule says why the result is wrong for other lengths.
    severity = Severity.WARNING
    invalid = (Example(build=_packed_lstm),)
    valid = (Example(build=_padded_lstm),)

    def check(self, graph: OpGraph, ctx: Context) -> Iterable[Finding]:
        method = graph.capture.method
        found = False
        for op, nodes in graph.by_op.items():
            if "pack_padded_sequence" not in op and "pad_packed_sequence" not in op:
                continue
            name = "pack_padded_sequence" if "pack_padded" in op else "pad_packed_sequence"
            for node in nodes:
                found = True
                yield self.finding(
                    graph, f"{name} runs in eval mode: torch.export cannot capture packed sequences, "
                    f"so ONNX, TFLite and Core ML conversion cannot start; the graph checked here comes "
                    f"from {method}, which freezes the example lengths. At inference run the RNN on "
                    "the padded batch and mask by lengths (keep packing for training only)", node=node)
        where = graph.capture.failure_location
        if not found and where is not None and _mentions_packing(graph, where.path, where.line):
            yield self.finding(
                graph, "packed sequences (pack_padded_sequence / PackedSequence) stop torch.export "
                "here; at inference run the RNN on the padded batch and mask by lengths",
                location=where)


def _mentions_packing(graph: OpGraph, path: str, line: int) -> bool:
    """The capture failed at a line that packs, or with an error that names packing."""
    text = linecache.getline(path, line) + " ".join(why for _, why in graph.capture.attempts)
    return any(word in text for word in _PACKING)
