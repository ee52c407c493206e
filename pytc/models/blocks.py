"""Building blocks of the model zoo: norm/activation factories and convolution blocks (2D and 3D)."""

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .sync_bn import SyncBatchNorm


def _group_norm(channels: int, ndim: int) -> nn.Module:
    groups = next(g for g in (8, 4, 2, 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


# name -> layer(channels, ndim): the `norm` choices of `pytc.models.build_model`
NORMS: dict[str, Callable[[int, int], nn.Module]] = {
    "bn": lambda channels, ndim: (nn.BatchNorm2d if ndim == 2 else nn.BatchNorm3d)(channels),
    "sync_bn": lambda channels, ndim: SyncBatchNorm(channels),
    "in": lambda channels, ndim: (nn.InstanceNorm2d if ndim == 2 else nn.InstanceNorm3d)(channels, affine=True),
    "gn": _group_norm,
    "none": lambda channels, ndim: nn.Identity(),
}
# name -> layer(): the `activation` choices
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "elu": lambda: nn.ELU(inplace=True),
    "leaky_relu": lambda: nn.LeakyReLU(0.2, inplace=True),
    "gelu": nn.GELU,
    "silu": lambda: nn.SiLU(inplace=True),
}
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
BLOCKS = ("residual", "residual_se", "dilated", "plain")  # see `Block`


def norm_layer(norm: str, channels: int, ndim: int) -> nn.Module:
    """The normalization layer `norm` (a key of `NORMS`) for `channels` channels of an `ndim`-D input."""
    return NORMS[norm](channels, ndim)


def conv(
    ndim: int,
    cin: int,
    cout: int,
    kernel: int | Sequence[int],
    padding_mode: str,
    stride: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    bias: bool = False,
) -> nn.Module:
    kernel = (kernel,) * ndim if isinstance(kernel, int) else tuple(kernel)
    dilation = (dilation,) * ndim if isinstance(dilation, int) else tuple(dilation)
    padding = tuple(d * (k // 2) for k, d in zip(kernel, dilation))
    cls = nn.Conv2d if ndim == 2 else nn.Conv3d
    return cls(
        cin, cout, kernel, stride=stride, padding=padding, dilation=dilation, bias=bias, padding_mode=padding_mode
    )


class ConvNormAct(nn.Sequential):
    def __init__(self, ndim, cin, cout, kernel, cfg, stride=1, dilation=1, act=True):
        layers = [
            conv(ndim, cin, cout, kernel, cfg["padding_mode"], stride, dilation, bias=cfg["norm"] == "none"),
            norm_layer(cfg["norm"], cout, ndim),
        ]
        if act:
            layers.append(ACTIVATIONS[cfg["activation"]]())
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    """Channel attention (Hu et al. 2018): global pooling, bottleneck, sigmoid gate."""

    def __init__(self, channels, reduction=4):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels), nn.Sigmoid()
        )

    def forward(self, x):
        gate = self.fc(x.flatten(2).mean(2))
        return x * gate.view(gate.shape + (1,) * (x.dim() - 2))


def dropout_layer(ndim: int, p: float) -> nn.Module | None:
    """Channel dropout (whole feature maps) of probability `p` for `ndim`-D inputs; None when `p` is 0, so a
    model without dropout has no dropout layer (dropout layers hold no weights: checkpoints load either way)."""
    if p <= 0:
        return None
    return (nn.Dropout2d if ndim == 2 else nn.Dropout3d)(p)


class Block(nn.Module):
    """Two convolutions; 'residual' adds a (projected) shortcut, 'residual_se' also gates channels,
    'dilated' uses dilation 1 and 2 in-plane (with a shortcut), 'plain' has no shortcut. With `dropout` > 0
    the output goes through channel dropout."""

    def __init__(self, ndim, cin, cout, kernel, cfg, block, dropout=0.0):
        super().__init__()
        dilation2 = 1
        if block == "dilated":
            dilation2 = tuple(1 if k == 1 else 2 for k in kernel)
        self.conv1 = ConvNormAct(ndim, cin, cout, kernel, cfg)
        self.conv2 = ConvNormAct(ndim, cout, cout, kernel, cfg, dilation=dilation2, act=False)
        self.se = SqueezeExcitation(cout) if block == "residual_se" else None
        self.shortcut = None
        if block != "plain":
            self.shortcut = nn.Identity() if cin == cout else ConvNormAct(ndim, cin, cout, 1, cfg, act=False)
        self.act = ACTIVATIONS[cfg["activation"]]()
        self.dropout = dropout_layer(ndim, dropout)

    def forward(self, x):
        y = self.conv2(self.conv1(x))
        if self.se is not None:
            y = self.se(y)
        if self.shortcut is not None:
            y = y + self.shortcut(x)
        y = self.act(y)
        return y if self.dropout is None else self.dropout(y)


def init_weights(module):
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def match_size(x, reference):
    """Resizes x to the spatial size of `reference` (no-op when equal)."""
    if x.shape[2:] == reference.shape[2:]:
        return x
    mode = "bilinear" if x.dim() == 4 else "trilinear"
    return torch.nn.functional.interpolate(x, size=reference.shape[2:], mode=mode, align_corners=False)
