"""Attention masks filled with float32's minimum: fine in PyTorch, NaN where the target computes in
float16 (Core ML ML Programs, the TFLite GPU delegate). `exportlint check examples/fp16_attention.py:build
--target coreml:iOS16` reports EXL601 (the constant) and EXL602 (the float16 run)."""

import torch
from torch import nn


class MaskedAttention(nn.Module):
    def __init__(self, dim: int = 16):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.scale = dim**-0.5

    def forward(self, x, padding):
        scores = self.q(x) @ self.k(x).transpose(-1, -2) * self.scale
        scores = scores.masked_fill(padding[:, None, :], torch.finfo(torch.float32).min)
        return scores.softmax(-1) @ self.v(x)


def build():
    torch.manual_seed(0)
    padding = torch.zeros(2, 6, dtype=torch.bool)
    padding[0, 4:] = True  # a padded sequence
    padding[1, :] = True  # an empty one: every key masked, a fully masked softmax row
    return MaskedAttention().eval(), (torch.randn(2, 6, 16), padding)


def tiny_bert():
    """A 2-layer BERT with random weights and eager attention (its additive mask holds
    torch.finfo(torch.float32).min); the second sequence is all padding."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, attn_implementation="eager")
    ids = torch.randint(0, 100, (2, 8))
    attention_mask = torch.ones(2, 8, dtype=torch.long)
    attention_mask[1] = 0
    return BertModel(config).eval(), (ids, attention_mask)
