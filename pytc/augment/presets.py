"""Ready-made augmentation pipelines."""

from . import base


def em_augmentations(output_shape, isotropic=False):
    """PyTorch Connectomics' EM training augmentations, each with its default probability, as one `Compose`.

    Geometric transforms first (flips and transposes, 90-degree rotations, rescaling, elastic warps, section
    misalignment and loss), then intensity and artefact transforms (grayscale, missing parts, motion blur,
    cut-blur, cut-noise). `isotropic=True` adds z-x transposes and a 3D elastic field.
    """
    import pytc.augment as augment

    names = [("Flip", {"xz_transpose": isotropic}), ("Rotate", {}), ("Rescale", {}),
             ("Elastic", {"mode": "3d" if isotropic else "2d"}), ("MisAlignment", {}), ("MissingSection", {}),
             ("Grayscale", {}), ("MissingParts", {}), ("MotionBlur", {}), ("CutBlur", {}), ("CutNoise", {})]  # fmt: skip
    transforms = [getattr(augment, name)(**kwargs) for name, kwargs in names if hasattr(augment, name)]
    return base.Compose(transforms, output_shape=output_shape)
