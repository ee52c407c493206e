"""The model zoo: models register by name in `MODELS`; `build_model(name, in_channels=1, out_channels=3, ...)`.

A model is a function ``(in_channels, out_channels, *, filters=None, isotropy=None, block=None, norm="bn",
activation="elu", padding_mode="zeros", dropout=0.0) -> nn.Module`` registered with ``@MODELS.register("name")``; `build_model`
looks the name up, so adding a model touches no branch, and an unknown name is an error listing the known ones.
"""

from collections.abc import Sequence
from typing import Any

from torch import nn

from ..registry import Registry
from ..validation import check_choice, check_number, fail
from .blocks import ACTIVATIONS, BLOCKS, NORMS, PADDING_MODES
from .unet import FPN3D, UNet

MODELS = Registry("model")

# Lee et al. 2017 ("superhuman"): five levels, the first three only in y-x (anisotropic EM)
_SUPERHUMAN = dict(
    filters=(28, 36, 48, 64, 80), isotropy=(False, False, False, True, True), block="residual", input_kernel=(1, 5, 5)
)


def _parts(
    in_channels: int,
    out_channels: int | Sequence[int],
    defaults: dict[str, Any],
    *,
    filters: Sequence[int] | None = None,
    isotropy: Sequence[bool] | None = None,
    block: str | None = None,
    norm: str = "bn",
    activation: str = "elu",
    padding_mode: str = "zeros",
    dropout: float = 0.0,
) -> dict[str, Any]:
    """The checked constructor arguments shared by the encoder-decoder models (`UNet`, `FPN3D`)."""
    fn = "build_model"
    check_number(in_channels, fn, "in_channels", low=1, integer=True)
    filters = tuple(filters or defaults["filters"])
    if not filters or min(filters) < 1:
        raise fail(fn, "filters", "positive channel counts, one per level", filters)
    isotropy = tuple(isotropy if isotropy is not None else defaults["isotropy"])
    if len(isotropy) != len(filters):
        raise fail(fn, "isotropy", f"one bool per level ({len(filters)} values)", f"{len(isotropy)}: {list(isotropy)}")
    heads = [out_channels] if isinstance(out_channels, int) else list(out_channels)
    if not heads or min(heads) < 1:
        raise fail(fn, "out_channels", "a positive int or a list of them", out_channels)
    cfg = {
        "norm": check_choice(norm, fn, "norm", NORMS),
        "activation": check_choice(activation, fn, "activation", ACTIVATIONS),
        "padding_mode": check_choice(padding_mode, fn, "padding_mode", PADDING_MODES),
        "dropout": float(check_number(dropout, fn, "dropout", low=0)),
    }
    if not cfg["dropout"] < 1:
        raise fail(fn, "dropout", "in [0, 1)", repr(dropout))
    block = check_choice(block or defaults["block"], fn, "block", BLOCKS)
    return dict(
        in_channels=in_channels,
        out_channels=heads,
        filters=filters,
        isotropy=isotropy,
        cfg=cfg,
        block=block,
        input_kernel=defaults["input_kernel"],
    )


@MODELS.register("unet_residual_3d")
def unet_residual_3d(in_channels: int = 1, out_channels: int | Sequence[int] = 3, **options: Any) -> UNet:
    """Lee et al. 2017 ("superhuman"), PyTorch Connectomics' SNEMI3D model: anisotropic residual 3D U-Net."""
    return UNet(3, **_parts(in_channels, out_channels, _SUPERHUMAN, **options))


@MODELS.register("unet_3d")
def unet_3d(in_channels: int = 1, out_channels: int | Sequence[int] = 3, **options: Any) -> UNet:
    """Isotropic residual 3D U-Net, four levels of 32 to 256 channels."""
    defaults = dict(filters=(32, 64, 128, 256), isotropy=(True,) * 4, block="residual", input_kernel=(3, 3, 3))
    return UNet(3, **_parts(in_channels, out_channels, defaults, **options))


@MODELS.register("unet_2d")
def unet_2d(in_channels: int = 1, out_channels: int | Sequence[int] = 3, **options: Any) -> UNet:
    """Residual 2D U-Net, five levels of 32 to 512 channels."""
    defaults = dict(filters=(32, 64, 128, 256, 512), isotropy=(True,) * 5, block="residual", input_kernel=(3, 3))
    return UNet(2, **_parts(in_channels, out_channels, defaults, **options))


@MODELS.register("fpn_3d")
def fpn_3d(in_channels: int = 1, out_channels: int | Sequence[int] = 3, **options: Any) -> FPN3D:
    """Feature pyramid network on the encoder of `unet_residual_3d`."""
    return FPN3D(**_parts(in_channels, out_channels, _SUPERHUMAN, **options))


def build_model(
    name: str,
    in_channels: int = 1,
    out_channels: int | Sequence[int] = 3,
    *,
    filters: Sequence[int] | None = None,
    isotropy: Sequence[bool] | None = None,
    block: str | None = None,
    norm: str = "bn",
    activation: str = "elu",
    padding_mode: str = "zeros",
    dropout: float = 0.0,
) -> nn.Module:
    """Builds the model registered as `name` in `MODELS`.

    Parameters
    ----------
    name : str
        A name of `MODELS`: 'unet_residual_3d', 'unet_3d', 'unet_2d', 'fpn_3d'.
    in_channels : int
    out_channels : int or list of int
        A list gives one output head per task; their outputs are concatenated along channels.
    filters : list of int, optional
        Channels per level (default: the model's).
    isotropy : list of bool, optional
        Per level (3D): True convolves and downsamples in z too, False only in y-x (anisotropic EM).
    block : {'residual', 'residual_se', 'dilated', 'plain'}
    norm : {'bn', 'sync_bn', 'in', 'gn', 'none'}
    activation : {'relu', 'elu', 'leaky_relu', 'gelu', 'silu'}
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
    dropout : float in [0, 1)
        Channel dropout in the bottleneck and the decoder (U-Nets: after each decoder block; FPN: before the
        heads); 0 (default) adds no dropout layer. Dropout layers hold no weights, so checkpoints load into a
        model with or without them. For MC dropout see `enable_mc_dropout`.

    Any input of at least ``model.min_size()`` voxels per axis gives an output of the same spatial size.
    An unknown `name` is a ValueError that lists the known ones.

    Examples
    --------
    >>> model = build_model("unet_3d", out_channels=[3, 1], filters=[4, 8], isotropy=[True, True])
    >>> model.ndim, model.min_size()
    (3, (4, 4, 4))
    """
    return MODELS.get(name)(
        in_channels,
        out_channels,
        filters=filters,
        isotropy=isotropy,
        block=block,
        norm=norm,
        activation=activation,
        padding_mode=padding_mode,
        dropout=dropout,
    )


def model_from_config(cfg: Any) -> nn.Module:
    """The model of a config (`pytc.config.Config`): `cfg.model` with one output head per task."""
    from ..data.tasks import task_layout

    ndim = len(cfg.data.sample_shape)
    heads = [t.output[1] - t.output[0] for t in task_layout(cfg.tasks, ndim)]
    m = cfg.model
    model = build_model(
        m.name,
        m.in_channels,
        heads,
        filters=m.filters,
        isotropy=m.isotropy,
        block=m.block,
        norm=m.norm,
        activation=m.activation,
        padding_mode=m.padding_mode,
        dropout=m.dropout,
    )
    if model.ndim != ndim:
        raise ValueError(
            f"model.name: {m.name} is a {model.ndim}D model but data.sample_shape {cfg.data.sample_shape} is {ndim}D"
        )
    return model


def enable_mc_dropout(model: nn.Module) -> int:
    """Monte Carlo dropout: puts the model in eval mode except its dropout layers, which keep dropping (each
    forward pass then samples another sub-network); batch norm uses and keeps its running statistics.

    Returns the number of dropout layers switched on. A model without dropout layers is a ValueError: train
    it with ``model.dropout`` > 0. Call ``model.eval()`` to turn MC dropout off.
    """
    layers = [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    if not layers:
        raise fail(
            "enable_mc_dropout",
            "model",
            "a model with dropout layers (train it with model.dropout > 0)",
            f"a {type(model).__name__} without any",
        )
    model.eval()
    for layer in layers:
        layer.train()
    return len(layers)
