"""Flips, transposes and rotations."""

from collections.abc import Sequence

import numpy as np

from ._warp import rotation_matrix, warp_slices
from .base import AUGMENTATIONS, IMAGE, Augmentation, Sample, label_keys, per_channel


def _apply_all(sample, fn, image_fn=None):
    """fn on every label-like array, image_fn (default fn) on each channel of the image."""
    for key in label_keys(sample):
        sample[key] = fn(sample[key])
    sample[IMAGE] = per_channel(sample[IMAGE], image_fn or fn)
    return sample


@AUGMENTATIONS.register()
class Flip(Augmentation):
    """Random flips along z, y and x and a random y-x transpose (each with probability 1/2).

    With ``xz_transpose=True`` (isotropic data only) also a random z-x transpose. Transposes need a
    sample whose transposed axes have equal length: `input_shape` asks for that.
    """

    def __init__(self, p: float = 1.0, xz_transpose: bool = False):
        super().__init__(p)
        self.xz_transpose = bool(xz_transpose)

    def input_shape(self, output_shape: Sequence[int]) -> tuple[int, ...]:
        z, y, x = output_shape
        side = max(y, x, z) if self.xz_transpose else max(y, x)
        return (side if self.xz_transpose else z, side, side)

    def apply(self, sample: Sample, rng: np.random.Generator) -> Sample:
        flips = rng.random(3) < 0.5
        transpose_yx = rng.random() < 0.5
        transpose_zx = self.xz_transpose and rng.random() < 0.5

        def fn(a):
            a = a[tuple(slice(None, None, -1) if f else slice(None) for f in flips)]
            if transpose_yx:
                a = a.transpose(0, 2, 1)
            if transpose_zx:
                a = a.transpose(2, 1, 0)
            return np.ascontiguousarray(a)

        return _apply_all(sample, fn)


@AUGMENTATIONS.register()
class Rotate(Augmentation):
    """Rotation in the y-x plane: by a random multiple of 90 degrees (``rot90=True``, exact), or by a
    random angle in [0, 360) (``rot90=False``; images bilinear, labels nearest neighbour)."""

    def __init__(self, p: float = 0.5, rot90: bool = True):
        super().__init__(p)
        self.rot90 = bool(rot90)

    def input_shape(self, output_shape: Sequence[int]) -> tuple[int, ...]:
        z, y, x = output_shape
        side = max(y, x) if self.rot90 else int(np.ceil(np.hypot(y, x))) + 2
        return (z, side, side)

    def apply(self, sample: Sample, rng: np.random.Generator) -> Sample:
        if self.rot90:
            k = int(rng.integers(4))
            return _apply_all(sample, lambda a: np.ascontiguousarray(np.rot90(a, k, axes=(1, 2))))
        angle = rng.uniform(0, 2 * np.pi)
        center = (np.array(sample[IMAGE].shape[-2:]) - 1) / 2
        matrix = rotation_matrix(angle, center, center)
        return _apply_all(sample, lambda a: warp_slices(a, matrix, order=0), lambda a: warp_slices(a, matrix, order=1))
