"""Intensity augmentations: they change the image only."""

import numpy as np

from ..validation import check_number
from ._warp import cast_like
from .base import AUGMENTATIONS, IMAGE, Augmentation, Sample

GRAYSCALE_MODES = ("2d", "3d", "mix")


def _adjust(image, contrast, brightness, gamma):
    """PyTorch Connectomics' grayscale change on a [0, 1] float image: contrast, brightness, gamma."""
    image = image * (1 + contrast) + brightness
    return np.clip(image, 0, 1) ** gamma


@AUGMENTATIONS.register()
class Grayscale(Augmentation):
    """Random contrast, brightness and gamma, for the whole volume ('3d'), per z-section ('2d'), or one of
    the two chosen at random ('mix'). Contrast factor in [-c, c], brightness in [-b, b], gamma 2**[-1, 1].
    Images are taken as [0, 1] floats (uint8 scaled by 1/255) and returned in their dtype.
    """

    def __init__(
        self, p: float = 0.75, contrast_factor: float = 0.3, brightness_factor: float = 0.3, mode: str = "mix"
    ):
        super().__init__(p)
        name = type(self).__name__
        self.contrast_factor = check_number(contrast_factor, name, "contrast_factor", 0, 1)
        self.brightness_factor = check_number(brightness_factor, name, "brightness_factor", 0, 1)
        if mode not in GRAYSCALE_MODES:
            raise ValueError(f"{name}: `mode` must be one of {GRAYSCALE_MODES}; got {mode!r}")
        self.mode = mode

    def _draw(self, rng, n):
        contrast = rng.uniform(-self.contrast_factor, self.contrast_factor, n)
        brightness = rng.uniform(-self.brightness_factor, self.brightness_factor, n)
        gamma = 2.0 ** rng.uniform(-1, 1, n)
        return contrast, brightness, gamma

    def apply(self, sample: Sample, rng: np.random.Generator) -> Sample:
        image = sample[IMAGE]
        mode = self.mode if self.mode != "mix" else ("2d", "3d")[int(rng.integers(2))]
        scale = np.float32(255 if image.dtype == np.uint8 else 1)
        work = image.astype(np.float32) / scale
        n_z = image.shape[-3]
        contrast, brightness, gamma = self._draw(rng, n_z if mode == "2d" else 1)
        shape = (n_z, 1, 1) if mode == "2d" else (1, 1, 1)
        work = _adjust(
            work,
            contrast.reshape(shape).astype(np.float32),
            brightness.reshape(shape).astype(np.float32),
            gamma.reshape(shape).astype(np.float32),
        )
        sample[IMAGE] = cast_like(work * scale, image.dtype)
        return sample
