"""EXL101's examples for support that depends on the node's form (arguments, input dtypes,
constness): builders of one-op models in a form some converter rejects or never saw probed, and
the same ops in forms that convert. `operator_support.UnsupportedOperator` adds them to its
`invalid` / `valid` examples. No rule lives here."""

from __future__ import annotations

from exportlint.engine.rule import Example


def _fn(forward):
    import torch

    class Fn(torch.nn.Module):
        def forward(self, *args):
            return forward(*args)

    return Fn()


def _max_pool_no_stride():
    import torch
    import torch.nn.functional as F

    def forward(x):
        return F.max_pool2d(x, 2)  # expect: EXL101

    return _fn(forward), (torch.randn(1, 3, 8, 8),)


def _max_pool_stride():
    import torch
    import torch.nn.functional as F

    return _fn(lambda x: F.max_pool2d(x, 2, 2)), (torch.randn(1, 3, 8, 8),)


def _pad_circular():
    import torch
    import torch.nn.functional as F

    def forward(x):
        return F.pad(x, (1, 1, 1, 1), mode="circular")  # expect: EXL101

    return _fn(forward), (torch.randn(1, 3, 8, 8),)


def _pad_reflect():
    import torch
    import torch.nn.functional as F

    return _fn(lambda x: F.pad(x, (1, 1, 1, 1), mode="reflect")), (torch.randn(1, 3, 8, 8),)


def _grid_sample_bicubic():
    import torch
    import torch.nn.functional as F

    def forward(x, grid):
        return F.grid_sample(x, grid, mode="bicubic", align_corners=False)  # expect: EXL101

    return _fn(forward), (torch.randn(1, 3, 8, 8), torch.rand(1, 5, 5, 2) * 2 - 1)


def _grid_sample_bilinear():
    import torch
    import torch.nn.functional as F

    return (_fn(lambda x, grid: F.grid_sample(x, grid, mode="bilinear", align_corners=False)),
            (torch.randn(1, 3, 8, 8), torch.rand(1, 5, 5, 2) * 2 - 1))


def _inverse_of_input():
    import torch

    def forward(x):
        return torch.linalg.inv(x)  # expect: EXL101

    return _fn(forward), (torch.rand(3, 3) * 0.3 + 2 * torch.eye(3),)


def _inverse_of_parameter():
    import torch

    from exportlint.tables.probe.catalog import _Inverse

    return _Inverse(), (torch.randn(2, 3),)


def _floor_divide():
    import torch

    def forward(a, b):
        return torch.div(a, b, rounding_mode="floor")  # expect: EXL101

    return _fn(forward), (torch.randn(3, 4), torch.rand(3, 4) + 0.5)


def _trunc_divide():
    import torch

    return _fn(lambda a, b: torch.div(a, b, rounding_mode="trunc")), (torch.randn(3, 4), torch.rand(3, 4) + 0.5)


def _sum_float64():
    import torch

    def forward(x):
        return x.sum(dim=1)  # expect: EXL101

    return _fn(forward), (torch.randn(2, 3, 4, dtype=torch.float64),)


def _sum_float16():
    """A sum over float16: no probe covered that dtype, so the verdict is "unverified" (a warning)."""
    import torch

    def forward(x):
        return x.sum(dim=1)  # expect: EXL101

    return _fn(forward), (torch.randn(2, 3, 4, dtype=torch.float16),)


def _sum_float32():
    import torch

    return _fn(lambda x: x.sum(dim=1)), (torch.randn(2, 3, 4),)


def _mask_index():
    import torch

    def forward(x, mask):
        return x[mask]  # expect: EXL101

    return _fn(forward), (torch.randn(5, 3), torch.randn(5, 3) > 0)


def _integer_index():
    import torch

    return _fn(lambda x, i: x[i]), (torch.randn(5, 3), torch.tensor([0, 4, 2]))


def _complex_scale():
    import torch

    def forward(x, w):
        spec = torch.fft.rfft(x, dim=-1)  # expect: EXL101
        return torch.fft.irfft(spec * w, n=8, dim=-1)  # expect: EXL101

    return _fn(forward), (torch.randn(2, 8), torch.rand(5))


def _conv_linear_add():
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.fc = torch.nn.Linear(8, 5)

        def forward(self, x):
            return self.fc(self.conv(x) + x.mean(dim=1, keepdim=True))

    return Net(), (torch.randn(1, 3, 8, 8),)


COREML = ("coreml:iOS16",)
TFLITE = ("tflite",)
INVALID = (
    Example(build=_max_pool_no_stride, targets=COREML), Example(build=_pad_circular, targets=COREML),
    Example(build=_grid_sample_bicubic, targets=COREML), Example(build=_inverse_of_input, targets=COREML),
    Example(build=_floor_divide, targets=TFLITE), Example(build=_sum_float64, targets=TFLITE),
    Example(build=_mask_index, targets=TFLITE), Example(build=_sum_float16, targets=TFLITE),
    Example(build=_complex_scale, targets=COREML),
)
VALID = (
    Example(build=_max_pool_stride, targets=COREML), Example(build=_pad_reflect, targets=COREML),
    Example(build=_grid_sample_bilinear, targets=COREML), Example(build=_inverse_of_parameter, targets=COREML),
    Example(build=_trunc_divide, targets=TFLITE), Example(build=_sum_float32, targets=TFLITE),
    Example(build=_integer_index, targets=TFLITE),
    Example(build=_conv_linear_add, targets=("onnx:18", "coreml:iOS16", "tflite")),
)
