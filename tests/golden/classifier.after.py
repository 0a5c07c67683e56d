"""A small classifier with the patterns `exportlint fix` rewrites."""

import torch
import torch.nn.functional as F
from torch import nn


class Classifier(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Conv2d(3, 16, 3, padding=1)
        self.gate = nn.Hardsigmoid()  # channel gate
        self.head = nn.Linear(16, classes)

    def forward(self, x):
        x = self.features(x)
        x = x * self.gate(x)
        # global pooling, written the old way
        x = F.adaptive_avg_pool2d(x, 1)
        x = torch.flatten(x, 1)  # flatten for the head
        y = torch.clamp(
            self.head(x) + 3, 0, 6,  # keep this comment
        ) / 6
        return F.max_pool1d(y[:, None], y.shape[1:]), torch.flatten(y, 1)
