"""A text classifier that packs padded sequences in forward: fine for training, trouble for export."""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class PackedClassifier(nn.Module):
    def __init__(self, vocab: int = 100, dim: int = 32, classes: int = 4):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.lstm = nn.LSTM(dim, dim, batch_first=True)
        self.head = nn.Linear(dim, classes)

    def forward(self, tokens, lengths):
        x = self.embed(tokens)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True)
        return self.head(out.mean(dim=1))


def build():
    torch.manual_seed(0)
    tokens = torch.randint(0, 100, (2, 12))
    lengths = torch.tensor([12, 7])
    return PackedClassifier().eval(), (tokens, lengths)
