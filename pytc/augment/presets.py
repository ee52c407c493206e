"""Ready-made augmentation pipelines, and pipelines described by names and parameters (as in configs)."""

from collections.abc import Mapping, Sequence
from typing import Any

from ..validation import check_choice
from .base import AUGMENTATIONS, Augmentation, Compose

# PyTorch Connectomics' EM list, in its order: geometric transforms first, then intensity and artefacts
EM_PRESET = (
    "Flip",
    "Rotate",
    "Rescale",
    "Elastic",
    "MisAlignment",
    "MissingSection",
    "Grayscale",
    "MissingParts",
    "MotionBlur",
    "CutBlur",
    "CutNoise",
)


def augmentation_classes() -> dict[str, type]:
    """Name -> class of every registered per-sample augmentation (`AUGMENTATIONS`; Mixup, a batch transform, is
    not one)."""
    return {name: AUGMENTATIONS.get(name) for name in AUGMENTATIONS}


def build_augmentation(name: str, **params: Any) -> Augmentation:
    """One augmentation by class name, e.g. ``build_augmentation("Elastic", alpha=8.0, p=0.5)``; an unknown
    name is a ValueError that lists the known ones."""
    cls = AUGMENTATIONS.get(name)
    try:
        return cls(**params)
    except TypeError as e:
        raise ValueError(f"build_augmentation: {name}: {e}") from None


def build_augmentations(
    output_shape: Sequence[int] | None,
    preset: str = "em",
    isotropic: bool = False,
    skip: Sequence[str] = (),
    params: Mapping[str, Mapping[str, Any]] | None = None,
    extra: Sequence[Mapping[str, Any]] = (),
) -> Compose:
    """A `Compose` from a preset minus `skip`, with per-augmentation `params`, then the `extra` entries.

    Parameters
    ----------
    output_shape : 3 ints, or None to leave it to the `VolumeDataset` that uses the pipeline
    preset : 'em' or 'none'
        'em': `EM_PRESET`, PyTorch Connectomics' EM list with its default probabilities.
    isotropic : bool
        'em': also z-x transposes (Flip) and a 3D elastic field.
    skip : names of preset augmentations to leave out
    params : dict name -> dict of keyword arguments for preset augmentations, e.g. ``{"Elastic": {"alpha": 8}}``
    extra : list of dicts ``{"name": ..., **keyword arguments}`` appended after the preset
    """
    check_choice(preset, "build_augmentations", "preset", ("em", "none"))
    names = EM_PRESET if preset == "em" else ()
    params = dict(params or {})
    for name in list(skip) + list(params):
        if name not in names:
            raise ValueError(
                f"build_augmentations: {name!r} is not in the {preset!r} preset; it has: "
                f"{', '.join(names) or 'nothing'}"
            )
    defaults = {"Flip": {"xz_transpose": isotropic}, "Elastic": {"mode": "3d" if isotropic else "2d"}}
    transforms = [
        build_augmentation(name, **{**defaults.get(name, {}), **params.get(name, {})})
        for name in names
        if name not in skip
    ]
    for entry in extra:
        entry = dict(entry)
        if "name" not in entry:
            raise ValueError(f"build_augmentations: each `extra` entry needs a 'name'; got {entry}")
        transforms.append(build_augmentation(entry.pop("name"), **entry))
    return Compose(transforms, output_shape=output_shape)


def em_augmentations(output_shape: Sequence[int] | None, isotropic: bool = False) -> Compose:
    """PyTorch Connectomics' EM training augmentations, each with its default probability, as one `Compose`.

    Geometric transforms first (flips and transposes, 90-degree rotations, rescaling, elastic warps, section
    misalignment and loss), then intensity and artefact transforms (grayscale, missing parts, motion blur,
    cut-blur, cut-noise). `isotropic=True` adds z-x transposes and a 3D elastic field.
    """
    return build_augmentations(output_shape, "em", isotropic)
