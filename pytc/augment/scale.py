"""Rescale: random zoom in the y-x plane (PyTorch Connectomics' defaults)."""

import math
from collections.abc import Sequence

import numpy as np

from ..validation import check_number, fail
from ._warp import warp_slices
from .base import AUGMENTATIONS, IMAGE, Augmentation, Sample, label_keys, per_channel


@AUGMENTATIONS.register()
class Rescale(Augmentation):
    """Zooms every section about its centre by factors drawn in [low, high] (one per axis, or one for both
    with `fix_aspect`); images bilinear, labels nearest neighbour. Zooming out needs a larger input:
    `input_shape` asks for output / low in y and x."""

    def __init__(self, p: float = 0.5, low: float = 0.8, high: float = 1.25, fix_aspect: bool = False):
        super().__init__(p)
        name = type(self).__name__
        self.low = check_number(low, name, "low", 0.5, 1.0)
        self.high = check_number(high, name, "high", self.low)
        if not isinstance(fix_aspect, (bool, np.bool_)):
            raise fail(name, "fix_aspect", "a bool", repr(fix_aspect), TypeError)
        self.fix_aspect = bool(fix_aspect)

    def input_shape(self, output_shape: Sequence[int]) -> tuple[int, ...]:
        z, y, x = output_shape
        return (z, math.ceil(y / self.low), math.ceil(x / self.low))

    def apply(self, sample: Sample, rng: np.random.Generator) -> Sample:
        scales = rng.uniform(self.low, self.high, 1 if self.fix_aspect else 2)
        sy, sx = (scales[0], scales[0]) if self.fix_aspect else scales
        cy, cx = (np.array(sample[IMAGE].shape[-2:]) - 1) / 2.0
        # output (y, x) reads the source at centre + (y - centre) / scale
        matrix = np.array([[1 / sy, 0, cy - cy / sy], [0, 1 / sx, cx - cx / sx]])
        for key in label_keys(sample):
            sample[key] = warp_slices(sample[key], matrix, order=0)
        sample[IMAGE] = per_channel(sample[IMAGE], lambda a: warp_slices(a, matrix, order=1))
        return sample
