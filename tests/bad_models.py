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


class InPlace(torch.nn.Module):
    """In-place and layout ops that only the TorchScript graph keeps (torch.export functionalises them)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.act = torch.nn.Hardswish(inplace=True)

    def forward(self, x):
        y = self.conv(x).relu_()
        y = y.transpose(2, 3).contiguous()
        return self.act(y)


class Looping(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            x = torch.relu(x)
        for _ in range(3):
            x = x * 2
        return x
