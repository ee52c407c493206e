"""Ready-made augmentation pipelines, and pipelines described by names and parameters (as in configs)."""

from . import base

# PyTorch Connectomics' EM list, in its order: geometric transforms first, then intensity and artefacts
EM_PRESET = ("Flip", "Rotate", "Rescale", "Elastic", "MisAlignment", "MissingSection", "Grayscale",
             "MissingParts", "MotionBlur", "CutBlur", "CutNoise")  # fmt: skip


def augmentation_classes():
    """Name -> class of every per-sample augmentation in `pytc.augment` (Mixup, a batch transform, excluded)."""
    import pytc.augment as augment

    return {name: getattr(augment, name) for name in augment.__all__
            if isinstance(getattr(augment, name), type) and issubclass(getattr(augment, name), base.Augmentation)
            and name not in ("Augmentation", "Mixup")}  # fmt: skip


def build_augmentation(name, **params):
    """One augmentation by class name, e.g. ``build_augmentation("Elastic", alpha=8.0, p=0.5)``."""
    classes = augmentation_classes()
    if name not in classes:
        raise ValueError(f"build_augmentation: unknown augmentation {name!r}; known: {', '.join(sorted(classes))}")
    try:
        return classes[name](**params)
    except TypeError as e:
        raise ValueError(f"build_augmentation: {name}: {e}") from None


def build_augmentations(output_shape, preset="em", isotropic=False, skip=(), params=None, extra=()):
    """A `Compose` from a preset minus `skip`, with per-augmentation `params`, then the `extra` entries.

    Parameters
    ----------
    output_shape : 3 ints
    preset : 'em' or 'none'
        'em': `EM_PRESET`, PyTorch Connectomics' EM list with its default probabilities.
    isotropic : bool
        'em': also z-x transposes (Flip) and a 3D elastic field.
    skip : names of preset augmentations to leave out
    params : dict name -> dict of keyword arguments for preset augmentations, e.g. ``{"Elastic": {"alpha": 8}}``
    extra : list of dicts ``{"name": ..., **keyword arguments}`` appended after the preset
    """
    if preset not in ("em", "none"):
        raise ValueError(f"build_augmentations: `preset` must be 'em' or 'none'; got {preset!r}")
    names = EM_PRESET if preset == "em" else ()
    params = dict(params or {})
    for name in list(skip) + list(params):
        if name not in names:
            raise ValueError(f"build_augmentations: {name!r} is not in the {preset!r} preset; it has: "
                             f"{', '.join(names) or 'nothing'}")  # fmt: skip
    defaults = {"Flip": {"xz_transpose": isotropic}, "Elastic": {"mode": "3d" if isotropic else "2d"}}
    transforms = [build_augmentation(name, **{**defaults.get(name, {}), **params.get(name, {})})
                  for name in names if name not in skip]  # fmt: skip
    for entry in extra:
        entry = dict(entry)
        if "name" not in entry:
            raise ValueError(f"build_augmentations: each `extra` entry needs a 'name'; got {entry}")
        transforms.append(build_augmentation(entry.pop("name"), **entry))
    return base.Compose(transforms, output_shape=output_shape)


def em_augmentations(output_shape, isotropic=False):
    """PyTorch Connectomics' EM training augmentations, each with its default probability, as one `Compose`.

    Geometric transforms first (flips and transposes, 90-degree rotations, rescaling, elastic warps, section
    misalignment and loss), then intensity and artefact transforms (grayscale, missing parts, motion blur,
    cut-blur, cut-noise). `isotropic=True` adds z-x transposes and a 3D elastic field.
    """
    return build_augmentations(output_shape, "em", isotropic)
