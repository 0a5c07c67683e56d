"""Small realistic networks, each built around one operator that converters handle unevenly."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def _eval(module, *inputs):
    return module.eval(), inputs


class Warp(nn.Module):
    """Spatial transformer: predict a flow field, resample the image with grid_sample."""

    def __init__(self, mode):
        super().__init__()
        self.flow = nn.Conv2d(3, 2, 3, padding=1)
        self.mode = mode

    def forward(self, x):
        grid = torch.tanh(self.flow(x)).permute(0, 2, 3, 1)
        return F.grid_sample(x, grid, mode=self.mode, align_corners=False)


def grid_sample_bilinear():
    torch.manual_seed(0)
    return _eval(Warp("bilinear"), torch.rand(1, 3, 16, 16))


def grid_sample_bicubic():
    torch.manual_seed(0)
    return _eval(Warp("bicubic"), torch.rand(1, 3, 16, 16))


class PackedLSTM(nn.Module):
    """Variable-length sequence classifier through pack_padded_sequence."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.head = nn.Linear(16, 3)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True)
        return self.head(out)


def packed_lstm():
    torch.manual_seed(0)
    return _eval(PackedLSTM(), torch.rand(2, 6, 8), torch.tensor([6, 4]))


class GRUTagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16, num_layers=2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        return self.head(self.gru(x)[0])


def gru():
    torch.manual_seed(0)
    return _eval(GRUTagger(), torch.rand(1, 6, 8))


class HardBlock(nn.Module):
    """MobileNetV3-style squeeze-excite block with hardsigmoid and hardswish."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.fc1 = nn.Conv2d(8, 4, 1)
        self.fc2 = nn.Conv2d(4, 8, 1)

    def forward(self, x):
        y = F.hardswish(self.conv(x))
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(y, 1)))))
        return y * s


def hard_activations():
    torch.manual_seed(0)
    return _eval(HardBlock(), torch.rand(1, 8, 16, 16))


class Float64Norm(nn.Module):
    """Normalisation statistics computed in float64 for precision."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(16, 16)

    def forward(self, x):
        y = self.proj(x).double()
        y = (y - y.mean(-1, keepdim=True)) / torch.sqrt(y.var(-1, keepdim=True) + 1e-6)
        return y.float()


def float64_math():
    torch.manual_seed(0)
    return _eval(Float64Norm(), torch.rand(2, 16))


class Float64Sum(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(16, 8)

    def forward(self, x):
        return self.proj(x).to(torch.float64).sum(dim=1).to(torch.float32)


def sum_float64():
    torch.manual_seed(0)
    return _eval(Float64Sum(), torch.rand(2, 16))


class UniqueTokens(nn.Module):
    """Bag-of-words: embed the distinct token ids only."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 8)

    def forward(self, ids):
        return self.emb(torch.unique(ids)).sum(0)


def unique():
    return _eval(UniqueTokens(), torch.tensor([[3, 5, 3, 7, 5, 9]]))


class NonzeroPool(nn.Module):
    """Mean of the activations above zero, gathered with nonzero."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        y = self.proj(x).flatten()
        return y[torch.nonzero(y > 0).squeeze(1)].sum()


def nonzero():
    torch.manual_seed(0)
    return _eval(NonzeroPool(), torch.rand(2, 8))


class MaskSelect(nn.Module):
    """Boolean-mask indexing: keep the confident rows."""

    def __init__(self):
        super().__init__()
        self.score = nn.Linear(8, 1)

    def forward(self, x):
        keep = torch.sigmoid(self.score(x)).squeeze(-1) > 0.5
        return x[keep].sum(0)


def bool_mask_index():
    torch.manual_seed(0)
    return _eval(MaskSelect(), torch.rand(6, 8))


class Prototypes(nn.Module):
    """Prototype classifier: distances to learned centres with cdist."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(8, 4)
        self.centres = nn.Parameter(torch.rand(5, 4))

    def forward(self, x):
        return -torch.cdist(self.embed(x), self.centres)


def cdist():
    torch.manual_seed(0)
    return _eval(Prototypes(), torch.rand(3, 8))


class TinyCNN(nn.Module):
    """LeNet-style CNN with F.max_pool2d(x, 2)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.fc(x.flatten(1))


def max_pool2d_functional():
    torch.manual_seed(0)
    return _eval(TinyCNN(), torch.rand(1, 1, 16, 16))


class PaddedConv(nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.mode = mode

    def forward(self, x):
        return self.conv(F.pad(x, (1, 1, 1, 1), mode=self.mode))


def pad_circular():
    torch.manual_seed(0)
    return _eval(PaddedConv("circular"), torch.rand(1, 3, 8, 8))



class Whitening(nn.Module):
    """Whitens features with the inverse of their computed covariance."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x):
        y = self.proj(x)
        cov = y.T @ y / y.shape[0] + torch.eye(4)
        return y @ torch.linalg.inv(cov)


def linalg_inv():
    torch.manual_seed(0)
    return _eval(Whitening(), torch.rand(8, 4))


class Bucketize(nn.Module):
    """Position buckets with div(rounding_mode="floor")."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(8, 4)

    def forward(self, pos):
        return self.emb(torch.div(pos, 4, rounding_mode="floor"))


def div_floor():
    return _eval(Bucketize(), torch.arange(16).reshape(2, 8) % 32)


class BilinearPool(nn.Module):
    """Bilinear (second-order) pooling with einsum."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        f = self.conv(x)
        return torch.einsum("bchw,bdhw->bcd", f, f) / (f.shape[2] * f.shape[3])


def einsum():
    torch.manual_seed(0)
    return _eval(BilinearPool(), torch.rand(1, 3, 8, 8))


class TopKHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 20)

    def forward(self, x):
        values, indices = torch.topk(self.fc(x), 5, dim=-1)
        return values, indices


def topk():
    torch.manual_seed(0)
    return _eval(TopKHead(), torch.rand(2, 16))




class CumulativeAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        w = torch.softmax(self.proj(x), dim=1)
        return torch.cumsum(w * x, dim=1)


def cumsum():
    torch.manual_seed(0)
    return _eval(CumulativeAttention(), torch.rand(1, 6, 8))


class ScatterPool(nn.Module):
    """Segment sum with scatter_add (graph-network style pooling)."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x, segment):
        out = torch.zeros(3, 4)
        return out.scatter_add(0, segment.unsqueeze(1).expand(-1, 4), self.proj(x))


def scatter_add():
    torch.manual_seed(0)
    return _eval(ScatterPool(), torch.rand(6, 4), torch.tensor([0, 1, 1, 2, 0, 2]))




class ShiftBlock(nn.Module):
    """Swin-style cyclic shift with torch.roll."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        return torch.roll(self.conv(x), shifts=(2, 2), dims=(2, 3))


def roll():
    torch.manual_seed(0)
    return _eval(ShiftBlock(), torch.rand(1, 4, 8, 8))


class Spectral(nn.Module):
    """FNO-style spectral mixing with rfft / irfft."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(8, 5))

    def forward(self, x):
        spec = torch.fft.rfft(x, dim=-1)
        return torch.fft.irfft(spec * self.weight, n=x.shape[-1], dim=-1)


def fft():
    torch.manual_seed(0)
    return _eval(Spectral(), torch.rand(2, 8, 8))


class Upsampler(nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.kwargs = kwargs

    def forward(self, x):
        return F.interpolate(self.conv(x), **self.kwargs)


def interpolate_bicubic():
    torch.manual_seed(0)
    return _eval(Upsampler(scale_factor=2, mode="bicubic", align_corners=False), torch.rand(1, 3, 8, 8))


def interpolate_antialias():
    torch.manual_seed(0)
    return _eval(Upsampler(size=(4, 4), mode="bilinear", antialias=True), torch.rand(1, 3, 16, 16))


@torch.library.custom_op("exportlint_corpus::soft_clip", mutates_args=())
def soft_clip(x: torch.Tensor) -> torch.Tensor:
    return x / (1 + x.abs())


@soft_clip.register_fake
def _(x):
    return torch.empty_like(x)


class CustomOpNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return soft_clip(self.fc(x))


def custom_op():
    torch.manual_seed(0)
    return _eval(CustomOpNet(), torch.rand(2, 8))


class LogitHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return torch.logit(torch.sigmoid(self.fc(x)), eps=1e-6)


def logit():
    torch.manual_seed(0)
    return _eval(LogitHead(), torch.rand(2, 8))


class EMAMix(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.b = nn.Linear(8, 8)

    def forward(self, x):
        return torch.lerp(self.a(x), self.b(x), 0.3)


def lerp():
    torch.manual_seed(0)
    return _eval(EMAMix(), torch.rand(2, 8))


class Gate(nn.Module):
    """Data-dependent branch: a different head when the mean activation is positive."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.pos = nn.Linear(8, 2)
        self.neg = nn.Linear(8, 2)

    def forward(self, x):
        y = self.fc(x)
        if y.mean() > 0:
            return self.pos(y)
        return self.neg(y)


def data_dependent_if():
    torch.manual_seed(0)
    return _eval(Gate(), torch.rand(2, 8))
