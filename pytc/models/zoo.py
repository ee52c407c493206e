"""The model registry: `build_model(name, in_channels=1, out_channels=..., **options)`."""

from .blocks import ACTIVATIONS, BLOCKS, NORMS, PADDING_MODES, check_choice
from .unet import FPN3D, UNet

# name -> (constructor, defaults)
MODELS = {
    # Lee et al. 2017 ("superhuman"), PyTorch Connectomics' SNEMI3D model: anisotropic residual U-Net
    "unet_residual_3d": ("unet", dict(ndim=3, filters=(28, 36, 48, 64, 80), isotropy=(False, False, False, True, True),
                                      block="residual", input_kernel=(1, 5, 5))),
    "unet_3d": ("unet", dict(ndim=3, filters=(32, 64, 128, 256), isotropy=(True, True, True, True), block="residual",
                             input_kernel=(3, 3, 3))),
    "unet_2d": ("unet", dict(ndim=2, filters=(32, 64, 128, 256, 512), isotropy=(True,) * 5, block="residual",
                             input_kernel=(3, 3))),
    "fpn_3d": ("fpn", dict(ndim=3, filters=(28, 36, 48, 64, 80), isotropy=(False, False, False, True, True),
                           block="residual", input_kernel=(1, 5, 5))),
}  # fmt: skip


def build_model(name, in_channels=1, out_channels=3, *, filters=None, isotropy=None, block=None, norm="bn",
                activation="elu", padding_mode="zeros"):  # fmt: skip
    """Builds a model of the zoo.

    Parameters
    ----------
    name : str
        One of `MODELS`: 'unet_residual_3d', 'unet_3d', 'unet_2d', 'fpn_3d'.
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

    Any input of at least ``model.min_size()`` voxels per axis gives an output of the same spatial size.
    """
    if name not in MODELS:
        raise ValueError(f"build_model: unknown model {name!r}; available: {sorted(MODELS)}")
    kind, defaults = MODELS[name]
    filters = tuple(filters or defaults["filters"])
    isotropy = tuple(isotropy if isotropy is not None else defaults["isotropy"])
    if len(isotropy) != len(filters):
        raise ValueError(f"build_model: `isotropy` needs one value per level ({len(filters)}); got {len(isotropy)}")
    if not filters or min(filters) < 1:
        raise ValueError(f"build_model: `filters` must be positive channel counts; got {filters}")
    heads = [out_channels] if isinstance(out_channels, int) else list(out_channels)
    if not heads or min(heads) < 1:
        raise ValueError(f"build_model: `out_channels` must be a positive int or a list of them; got {out_channels}")
    cfg = {
        "norm": check_choice("norm", norm, NORMS),
        "activation": check_choice("activation", activation, ACTIVATIONS),
        "padding_mode": check_choice("padding_mode", padding_mode, PADDING_MODES),
    }
    block = check_choice("block", block or defaults["block"], BLOCKS)
    if kind == "fpn":
        return FPN3D(in_channels, heads, filters, isotropy, cfg, block, defaults["input_kernel"])
    return UNet(defaults["ndim"], in_channels, heads, filters, isotropy, cfg, block, defaults["input_kernel"])


def model_from_config(cfg):
    """The model of a config (`pytc.config.Config`): `cfg.model` with one output head per task."""
    from ..data.tasks import task_layout

    ndim = len(cfg.data.sample_shape)
    heads = [t.output[1] - t.output[0] for t in task_layout(cfg.tasks, ndim)]
    m = cfg.model
    model = build_model(m.name, m.in_channels, heads, filters=m.filters, isotropy=m.isotropy, block=m.block,
                        norm=m.norm, activation=m.activation, padding_mode=m.padding_mode)  # fmt: skip
    if model.ndim != ndim:
        raise ValueError(f"model.name: {m.name} is a {model.ndim}D model but data.sample_shape {cfg.data.sample_shape} "
                         f"is {ndim}D")  # fmt: skip
    return model
