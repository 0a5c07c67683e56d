"""A sequence tagger: nested fixes, a display-only suggestion, and code that must not move."""
import torch
from torch import nn
from torch.nn import functional as fn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 8, batch_first=True)
        self.acts = nn.ModuleList([nn.Sigmoid(), nn.ReLU()])

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True)  # not fixed: display only
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True)
        feats = fn.adaptive_max_pool2d(out[:, None], 1)
        # nested: the view inside the hard-sigmoid is fixed too
        gate = torch.clamp(torch.flatten(feats, 1) + 3, 0, 6) / 6
        return gate * torch.nn.functional.adaptive_avg_pool1d(out, 1).reshape(out.shape[0], -1)
