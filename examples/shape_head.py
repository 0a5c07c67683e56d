"""A classifier head that pools and flattens with sizes read from the tensor, and a warp with
grid_sample: shape arithmetic frozen at capture, and an op that old ONNX opsets lack."""

import torch
import torch.nn.functional as F
from torch import nn


class ShapeHead(nn.Module):
    def __init__(self, channels: int = 8, classes: int = 5):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        x = F.relu(self.conv(x))
        x = F.avg_pool2d(x, x.size()[2:])
        x = x.view(x.size(0), -1)
        return self.fc(x)


class WarpThenHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = ShapeHead()

    def forward(self, x, grid):
        x = F.grid_sample(x, grid, align_corners=False)
        return self.head(x)


def build():
    torch.manual_seed(0)
    return ShapeHead().eval(), (torch.randn(2, 3, 32, 32),)


def build_warp():
    torch.manual_seed(0)
    grid = torch.rand(2, 32, 32, 2) * 2 - 1
    return WarpThenHead().eval(), (torch.randn(2, 3, 32, 32), grid)
