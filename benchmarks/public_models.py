"""Public models at their usual input sizes, for benchmarks/versus_converters.py (random weights,
no download): torchvision's mobilenet_v3_small and resnet50 at 224×224, and the tiny-config BERT and
ViT of the corpus."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "corpus"))

import _torchvision_cpu  # noqa: E402,F401 - the CUDA-built torchvision on CPU torch
import torch  # noqa: E402
import torchvision.models as tvm  # noqa: E402
from hf import bert, vit  # noqa: E402,F401 - re-exported factories


def _tv(builder):
    torch.manual_seed(0)
    return builder(weights=None).eval(), (torch.rand(1, 3, 224, 224),)


def mobilenet_v3_small():
    return _tv(tvm.mobilenet_v3_small)


def resnet50():
    return _tv(tvm.resnet50)
