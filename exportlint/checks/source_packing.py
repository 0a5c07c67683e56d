"""EXL503: `pack_padded_sequence` / `pad_packed_sequence` on the exported path of `forward`."""

from __future__ import annotations

from exportlint.engine.rule import Applicability, Example, Fix, Severity
from exportlint.source.lazy import cst
from exportlint.source.rule import SourceRule

_PACKING = frozenset(
    f"torch.nn.utils.rnn.{name}"
    for name in ("pack_padded_sequence", "pad_packed_sequence", "pack_sequence", "unpack_sequence")
)
_KEEP_FOR_TRAINING = Fix(
    Applicability.DISPLAY,
    "keep packing under `if self.training:` and run the RNN on the padded batch otherwise",
)


class PackedSequenceInForward(SourceRule):
    """
    ## What it does
    Flags `pack_padded_sequence`, `pad_packed_sequence`, `pack_sequence` and `unpack_sequence` in
    `forward` outside a training-only branch (`if self.training:`, the `else` of
    `if torch.onnx.is_in_onnx_export():`, or after `if not self.training: return ...`).

    ## Why is this bad?
    Packed sequences cannot be exported, or export with silently wrong outputs for the other lengths
    (pytorch#49936, #26462, #48460): the packing depends on the lengths' values, which a traced graph
    freezes.

    ## Example
    ```python
    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True)
        out, _ = self.rnn(packed)
        return pad_packed_sequence(out, batch_first=True)[0]
    ```

    ## Use instead
    ```python
    def forward(self, x, lengths):
        if self.training:
            packed = pack_padded_sequence(x, lengths, batch_first=True)
            out, _ = self.rnn(packed)
            return pad_packed_sequence(out, batch_first=True)[0]
        out, _ = self.rnn(x)  # inference path: padded batch, mask the outputs if needed
        return out
    ```

    ## Fix safety
    Display-only: the inference path has to be written by hand (masking, or batches of equal
    lengths), so no automatic fix is applied.
    """

    code = "EXL503"
    slug = "packed-sequence-in-forward"
    summary = "pack_padded_sequence/pad_packed_sequence in forward without a training-only guard."
    severity = Severity.ERROR
    fix = Applicability.DISPLAY
    forward_only = True
    needles = tuple(sorted(name.rpartition(".")[2].encode() for name in _PACKING))
    invalid = (
        Example(
            source="""\
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

class Tagger(nn.Module):
    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True)  # expect: EXL503
        out, _ = self.rnn(packed)
        return pad_packed_sequence(out, batch_first=True)[0]  # expect: EXL503
"""
        ),
        Example(
            source="""\
import torch
import torch.nn.utils.rnn as rnn_utils

class Tagger(torch.nn.Module):
    def forward(self, x, lengths):
        if self.use_packing:
            x = rnn_utils.pack_padded_sequence(x, lengths)  # expect: EXL503
        return self.rnn(x)
"""
        ),
    )
    valid = (
        Example(
            source="""\
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

class Tagger(nn.Module):
    def forward(self, x, lengths):
        if self.training:
            out, _ = self.rnn(pack_padded_sequence(x, lengths, batch_first=True))
            return pad_packed_sequence(out, batch_first=True)[0]
        return self.rnn(x)[0]

class Early(nn.Module):
    def forward(self, x, lengths):
        if not self.training:
            return self.rnn(x)[0]
        out, _ = self.rnn(pack_padded_sequence(x, lengths, batch_first=True))
        return pad_packed_sequence(out, batch_first=True)[0]

def collate(x, lengths):  # not in forward: data preparation
    return pack_padded_sequence(x, lengths)
"""
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        if self.unit.exported and self.unit.resolve(node.func, _PACKING):
            self.report(
                node,
                "packed sequences in forward do not export (or export wrong for other lengths);"
                " keep them in a training-only branch",
                fix=_KEEP_FOR_TRAINING,
            )
