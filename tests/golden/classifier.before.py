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
        x = F.avg_pool2d(x, x.size()[2:])
        x = x.view(x.size(0), -1)  # flatten for the head
        y = F.hardsigmoid(
            self.head(x),  # keep this comment
        )
        return F.max_pool1d(y[:, None], y.shape[1:]), y.reshape(y.shape[0], -1)
