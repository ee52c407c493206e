"""CutBlur and CutNoise (image only), PyTorch Connectomics' defaults.

The cuboids are a few percent of a sample, so scipy/numpy on the cuboid is as fast as a kernel would be.
"""

import numpy as np
from scipy import ndimage

from ._warp import cast_like
from .base import IMAGE, Augmentation, check_range

NOISE_MODES = ("uniform", "gaussian")


def random_cuboid(shape, length_ratio, rng, axes=(0, 1, 2)):
    """Slices of a random cuboid whose side along each axis in `axes` is int(length_ratio * length)."""
    box = []
    for axis, n in enumerate(shape):
        if axis not in axes:
            box.append(slice(0, n))
            continue
        side = int(length_ratio * n)
        low = int(rng.integers(0, n - side + 1))
        box.append(slice(low, low + side))
    return tuple(box)


def _as_unit(image):
    """A float32 [0, 1] working copy of the image and the factor that maps it back."""
    scale = np.float32(255 if image.dtype == np.uint8 else 1)
    return image.astype(np.float32) / scale, scale


def blur_cuboid(block, factor):
    """`block` downsampled by `factor` per axis (gaussian anti-aliasing, linear) and upsampled back by nearest
    neighbour, as with CutBlur's low-resolution regions."""
    small_shape = tuple(max(1, int(n / f)) for n, f in zip(block.shape, factor))
    sigma = tuple(max(0.0, (f - 1) / 2) for f in factor)
    smooth = ndimage.gaussian_filter(block, sigma, mode="reflect")
    small = ndimage.zoom(smooth, [s / n for s, n in zip(small_shape, block.shape)], order=1, mode="nearest")
    index = np.ix_(*[np.minimum((np.arange(n) * s) // n, s - 1) for n, s in zip(block.shape, small.shape)])
    return small[index]


class CutBlur(Augmentation):
    """A random cuboid of the image is downsampled by a random factor in [down_ratio_min, down_ratio_max]
    (y and x; z too with `downsample_z`) and upsampled back (Chen et al. 2020's CutBlur, in 3D)."""

    def __init__(self, p=0.5, length_ratio=0.25, down_ratio_min=2.0, down_ratio_max=8.0, downsample_z=False):
        super().__init__(p)
        name = type(self).__name__
        self.length_ratio = check_range(name, "length_ratio", length_ratio, 0, 1)
        self.down_ratio_min = check_range(name, "down_ratio_min", down_ratio_min, 1)
        self.down_ratio_max = check_range(name, "down_ratio_max", down_ratio_max, self.down_ratio_min)
        self.downsample_z = bool(downsample_z)

    def apply(self, sample, rng):
        image = sample[IMAGE]
        box = random_cuboid(image.shape[-3:], self.length_ratio, rng)
        ratio = rng.uniform(self.down_ratio_min, self.down_ratio_max)
        factor = (ratio if self.downsample_z else 1.0, ratio, ratio)
        work, scale = _as_unit(image)
        channels = work[np.newaxis] if work.ndim == 3 else work
        for channel in channels:
            if all(s.stop > s.start for s in box):
                channel[box] = np.clip(blur_cuboid(channel[box], factor), 0, 1)
        sample[IMAGE] = cast_like(work * scale, image.dtype)
        return sample


class CutNoise(Augmentation):
    """Noise added to a random cuboid of the image and clipped to the image's range: uniform in
    [-scale, scale] ('uniform', PyTorch Connectomics) or normal with std `scale` ('gaussian')."""

    def __init__(self, p=0.5, length_ratio=0.25, mode="uniform", scale=0.2):
        super().__init__(p)
        name = type(self).__name__
        self.length_ratio = check_range(name, "length_ratio", length_ratio, 0, 1)
        if mode not in NOISE_MODES:
            raise ValueError(f"{name}: `mode` must be one of {NOISE_MODES}; got {mode!r}")
        self.mode = mode
        self.scale = check_range(name, "scale", scale, 0)

    def apply(self, sample, rng):
        image = sample[IMAGE]
        shape = image.shape[-3:]
        box = random_cuboid(shape, self.length_ratio, rng, axes=(0, 1, 2) if shape[0] > 1 else (1, 2))
        size = tuple(s.stop - s.start for s in box)
        if self.mode == "uniform":
            noise = rng.uniform(-self.scale, self.scale, size).astype(np.float32)
        else:
            noise = rng.normal(0, self.scale, size).astype(np.float32)
        work, scale = _as_unit(image)
        channels = work[np.newaxis] if work.ndim == 3 else work
        for channel in channels:  # the same noise in every channel
            channel[box] = np.clip(channel[box] + noise, 0, 1)
        sample[IMAGE] = cast_like(work * scale, image.dtype)
        return sample
