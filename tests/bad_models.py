"""Factories that misbehave, for the CLI's error handling tests."""

import torch


def raises():
    raise ValueError("broken on purpose")


def not_a_module():
    return 42, (torch.randn(1),)


class Branchy(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return torch.relu(x) * 2
        return x - 1


def branchy():
    return Branchy(), (torch.ones(2, 3),)
