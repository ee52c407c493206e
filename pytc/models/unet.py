"""U-Net (2D and 3D, per-stage isotropy) and 3D FPN for EM segmentation."""

import math

import torch
from torch import nn

from ..validation import fail
from .blocks import Block, ConvNormAct, conv, dropout_layer, init_weights, match_size


def _kernel(ndim, isotropic, size=3):
    return (size,) * ndim if ndim == 2 or isotropic else (1, size, size)


def _stride(ndim, isotropic):
    return (2,) * ndim if ndim == 2 or isotropic else (1, 2, 2)


class Heads(nn.Module):
    """One 1x1 convolution per task; outputs concatenated along channels (task c gets channels
    sum(out_channels[:c]) .. sum(out_channels[:c + 1]))."""

    def __init__(self, ndim, cin, out_channels):
        super().__init__()
        self.heads = nn.ModuleList(conv(ndim, cin, c, 1, "zeros", bias=True) for c in out_channels)

    def forward(self, x):
        return torch.cat([head(x) for head in self.heads], 1)


class _Encoder(nn.Module):
    """Input convolution, then one block per level (strided convolutions between levels); the last level's
    block (the bottleneck) has channel dropout `cfg['dropout']`."""

    def __init__(self, ndim, in_channels, filters, isotropy, cfg, block, input_kernel):
        super().__init__()
        self.ndim, self.isotropy = ndim, isotropy
        self.input = ConvNormAct(ndim, in_channels, filters[0], input_kernel, cfg)
        self.down = nn.ModuleList()
        self.blocks = nn.ModuleList()
        for i, f in enumerate(filters):
            cin = filters[max(0, i - 1)]
            self.down.append(
                nn.Identity()
                if i == 0
                else ConvNormAct(ndim, cin, cin, _kernel(ndim, isotropy[i]), cfg, stride=_stride(ndim, isotropy[i]))
            )
            dropout = cfg["dropout"] if i == len(filters) - 1 else 0.0
            self.blocks.append(Block(ndim, cin, f, _kernel(ndim, isotropy[i]), cfg, block, dropout))

    def forward(self, x):
        features = []
        x = self.input(x)
        for down, block in zip(self.down, self.blocks):
            x = block(down(x))
            features.append(x)
        return features

    def min_size(self) -> tuple[int, ...]:
        """Smallest input extent per spatial axis: every level keeps at least 2 voxels."""
        factors = [1] * self.ndim
        for iso in self.isotropy[1:]:
            factors = [f * s for f, s in zip(factors, _stride(self.ndim, iso))]
        return tuple(2 * f if f > 1 else 1 for f in factors)


class _EncoderDecoder(nn.Module):
    """Checks the input, runs the encoder, `decode`s its features and applies the output heads."""

    def min_size(self) -> tuple[int, ...]:
        return self.encoder.min_size()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x)
        return self.heads(self.decode(self.encoder(x)))


class UNet(_EncoderDecoder):
    """Encoder-decoder with skip connections (added), for 2D or 3D inputs.

    Levels downsample by strided convolutions ((1, 2, 2) at anisotropic 3D levels, 2 elsewhere) and
    the decoder upsamples by interpolation to the skip's size, so any input at least `min_size()`
    gives an output of the same spatial size. With ``cfg['dropout']`` > 0, the bottleneck and every decoder
    block end in channel dropout (for MC dropout, see `pytc.models.enable_mc_dropout`).
    """

    def __init__(self, ndim, in_channels, out_channels, filters, isotropy, cfg, block, input_kernel):
        super().__init__()
        self.encoder = _Encoder(ndim, in_channels, filters, isotropy, cfg, block, input_kernel)
        self.decoder = nn.ModuleList()
        for i in range(len(filters) - 1, 0, -1):
            self.decoder.append(
                nn.ModuleDict(
                    {
                        "reduce": ConvNormAct(ndim, filters[i], filters[i - 1], 1, cfg),
                        "block": Block(
                            ndim,
                            filters[i - 1],
                            filters[i - 1],
                            _kernel(ndim, isotropy[i - 1]),
                            cfg,
                            block,
                            cfg["dropout"],
                        ),
                    }
                )
            )
        self.heads = Heads(ndim, filters[0], out_channels)
        self.ndim = ndim
        init_weights(self)

    def decode(self, features):
        y = features[-1]
        for stage, skip in zip(self.decoder, reversed(features[:-1])):
            y = stage["block"](match_size(stage["reduce"](y), skip) + skip)
        return y


class FPN3D(_EncoderDecoder):
    """Feature pyramid network (Lin et al. 2017) on the residual encoder: lateral 1x1 convolutions,
    a top-down pathway (upsample and add), and a smoothing convolution at every level; the heads read
    the finest level. With ``cfg['dropout']`` > 0, the bottleneck and the finest level (before the heads)
    go through channel dropout."""

    def __init__(self, in_channels, out_channels, filters, isotropy, cfg, block, input_kernel, width=None):
        super().__init__()
        width = width or filters[0]
        self.encoder = _Encoder(3, in_channels, filters, isotropy, cfg, block, input_kernel)
        self.lateral = nn.ModuleList(ConvNormAct(3, f, width, 1, cfg) for f in filters)
        self.smooth = nn.ModuleList(ConvNormAct(3, width, width, _kernel(3, iso), cfg) for iso in isotropy)
        self.dropout = dropout_layer(3, cfg["dropout"])
        self.heads = Heads(3, width, out_channels)
        self.ndim = 3
        init_weights(self)

    def decode(self, features):
        y = self.smooth[-1](self.lateral[-1](features[-1]))
        for i in range(len(features) - 2, -1, -1):
            lateral = self.lateral[i](features[i])
            y = self.smooth[i](lateral + match_size(y, lateral))
        return y if self.dropout is None else self.dropout(y)


def check_input(model: nn.Module, x: torch.Tensor) -> None:
    fn = type(model).__name__
    if x.dim() != model.ndim + 2:
        raise fail(fn, "input", f"(N, C, {'Z, ' if model.ndim == 3 else ''}Y, X)", f"shape {tuple(x.shape)}")
    if any(n < m for n, m in zip(x.shape[2:], model.min_size())):
        raise fail(
            fn,
            "input",
            f"at least {model.min_size()} in space (this model accepts any size from there)",
            f"spatial size {tuple(x.shape[2:])}",
        )


def num_parameters(model: nn.Module) -> int:
    return sum(math.prod(p.shape) for p in model.parameters())
