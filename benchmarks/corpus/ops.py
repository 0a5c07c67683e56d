"""Small networks around one layer or op that real models use and converters handle unevenly: attention
blocks, normalisations, resampling, sorting and indexing, masks, special functions. Each factory returns
`(model in eval mode, example inputs)`; a `Head` is a linear (or convolution) layer feeding the op, as the
op sits in a network."""

import torch
import torch.nn.functional as F
from torch import nn


class Head(nn.Module):
    """`op(layer(x))`: a learned layer, then the op under test."""

    def __init__(self, layer, op):
        super().__init__()
        self.layer = layer
        self.op = op

    def forward(self, x):
        return self.op(self.layer(x))


def _head(op, *inputs, layer=None):
    torch.manual_seed(0)
    return Head(layer or nn.Linear(inputs[0].shape[-1], inputs[0].shape[-1]), op).eval(), inputs


def _conv_head(op, channels=4, size=8):
    torch.manual_seed(0)
    return Head(nn.Conv2d(3, channels, 3, padding=1), op).eval(), (torch.rand(1, 3, size, size),)


def transformer_encoder():
    """nn.TransformerEncoder in eval: PyTorch's fused fast path (`_transformer_encoder_layer_fwd`) under no_grad."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, batch_first=True)
    return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval(), (torch.rand(2, 5, 16),)


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 4, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


def multihead_attention():
    torch.manual_seed(0)
    return SelfAttention().eval(), (torch.rand(2, 5, 16),)


class CausalMask(nn.Module):
    """A decoder's causal mask from torch.triu, filled with -inf before the softmax."""

    def __init__(self):
        super().__init__()
        self.qk = nn.Linear(16, 32)

    def forward(self, x):
        q, k = self.qk(x).chunk(2, dim=-1)
        scores = q @ k.transpose(1, 2)
        n = x.shape[1]
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
        return scores.masked_fill(mask, float("-inf")).softmax(-1)


def causal_mask():
    torch.manual_seed(0)
    return CausalMask().eval(), (torch.rand(2, 6, 16),)


def plain_lstm():
    torch.manual_seed(0)

    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(8, 16, batch_first=True)
            self.head = nn.Linear(16, 3)

        def forward(self, x):
            return self.head(self.lstm(x)[0])

    return Tagger().eval(), (torch.rand(2, 6, 8),)


def pixel_shuffle():
    return _conv_head(nn.PixelShuffle(2))


def unfold():
    return _conv_head(lambda y: F.unfold(y, kernel_size=3, padding=1))


def instance_norm():
    return _conv_head(nn.InstanceNorm2d(4, affine=True))


def local_response_norm():
    return _conv_head(nn.LocalResponseNorm(3))


def adaptive_max_pool():
    return _conv_head(nn.AdaptiveMaxPool2d((3, 3)), size=9)


def upsample_nearest():
    return _conv_head(lambda y: F.interpolate(y, scale_factor=2, mode="nearest"))


def upsample_bilinear_align_corners():
    return _conv_head(lambda y: F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=True))


def conv_transpose_output_padding():
    torch.manual_seed(0)
    return nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1).eval(), (torch.rand(1, 3, 8, 8),)


def dilated_conv1d():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(4, 8, 3, dilation=2, padding=2), nn.Tanh(),
                         nn.Conv1d(8, 4, 3, dilation=4, padding=4)).eval(), (torch.rand(1, 4, 32),)


def affine_grid():
    class Stn(nn.Module):
        def __init__(self):
            super().__init__()
            self.theta = nn.Linear(3 * 8 * 8, 6)

        def forward(self, x):
            theta = self.theta(x.flatten(1)).view(-1, 2, 3)
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            return F.grid_sample(x, grid, align_corners=False)

    torch.manual_seed(0)
    return Stn().eval(), (torch.rand(1, 3, 8, 8),)


def embedding_bag():
    class Bag(nn.Module):
        def __init__(self):
            super().__init__()
            self.bag = nn.EmbeddingBag(50, 8, mode="mean")

        def forward(self, ids, offsets):
            return self.bag(ids, offsets)

    torch.manual_seed(0)
    return Bag().eval(), (torch.tensor([1, 2, 4, 5, 4, 3, 2, 9]), torch.tensor([0, 4]))


def one_hot():
    class OneHot(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(10, 4)

        def forward(self, ids):
            return self.fc(F.one_hot(ids, 10).float())

    torch.manual_seed(0)
    return OneHot().eval(), (torch.tensor([[1, 3, 9], [0, 2, 2]]),)


def argsort():
    return _head(lambda y: torch.argsort(y, dim=-1, descending=True).float(), torch.rand(2, 8))


def sort_values():
    return _head(lambda y: torch.sort(y, dim=-1).values, torch.rand(2, 8))


def median():
    return _head(lambda y: y.median(dim=-1).values, torch.rand(2, 8))


def bucketize():
    boundaries = torch.linspace(-1, 1, 7)
    return _head(lambda y: torch.bucketize(y, boundaries).float(), torch.rand(2, 8))


def gather():
    return _head(lambda y: torch.gather(y, 1, y.argmax(-1, keepdim=True).expand(-1, 3)), torch.rand(2, 8))


def index_put():
    def op(y):
        y = y.clone()
        y[:, 2] = 0.0
        return y
    return _head(op, torch.rand(2, 8))


def repeat_interleave():
    return _head(lambda y: y.repeat_interleave(2, dim=1), torch.rand(2, 8))


def flip():
    return _conv_head(lambda y: torch.flip(y, dims=[-1]))


def gelu_tanh():
    return _head(lambda y: F.gelu(y, approximate="tanh"), torch.rand(2, 8))


def mish():
    return _head(F.mish, torch.rand(2, 8))


def erfinv():
    return _head(lambda y: torch.erfinv(torch.tanh(y) * 0.99), torch.rand(2, 8))


def atan2():
    return _head(lambda y: torch.atan2(y[:, :4], y[:, 4:]), torch.rand(2, 8))


def normalize():
    return _head(lambda y: F.normalize(y, p=2, dim=-1), torch.rand(2, 8))


def nan_to_num():
    return _head(lambda y: torch.nan_to_num(torch.log(y), nan=0.0, neginf=-10.0), torch.rand(2, 8))


def int64_arithmetic():
    """Token positions computed in int64 (cumsum of a mask), then embedded: HF's position ids."""
    class Positions(nn.Module):
        def __init__(self):
            super().__init__()
            self.pos = nn.Embedding(16, 8)

        def forward(self, ids):
            mask = ids.ne(0).long()
            return self.pos(torch.cumsum(mask, dim=1) * mask)

    torch.manual_seed(0)
    return Positions().eval(), (torch.tensor([[5, 7, 9, 0, 0], [3, 3, 0, 0, 0]]),)


def stft():
    class Spectrogram(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("window", torch.hann_window(16))

        def forward(self, wave):
            spec = torch.stft(wave, 16, hop_length=4, window=self.window, return_complex=True)
            return spec.abs()

    return Spectrogram().eval(), (torch.rand(1, 64),)


def det():
    return _head(lambda y: torch.linalg.det(y.view(-1, 3, 3)), torch.rand(2, 9))
