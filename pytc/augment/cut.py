"""CutBlur and CutNoise (image only), PyTorch Connectomics' defaults.

Only the cuboid is worked on (in float32, cast back to the image's dtype); the rest of the image is copied.
No numba here: at the training size (output 18x160x160) the cuboid is 4x40x40 voxels, and the scipy calls
on it take tens of microseconds, less than the copy of the whole image (see benchmarks/test_bench_mixing.py).
"""

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from ..validation import check_number, fail
from ._warp import cast_like
from .base import AUGMENTATIONS, IMAGE, Augmentation, Sample

NOISE_MODES = ("uniform", "gaussian")


def random_cuboid(
    shape: Sequence[int], length_ratio: float, rng: np.random.Generator, axes: Sequence[int] = (0, 1, 2)
) -> tuple[slice, ...]:
    """Slices of a random cuboid whose side along each axis in `axes` is int(length_ratio * length)
    (the whole length along the other axes)."""
    box = []
    for axis, n in enumerate(shape):
        if axis not in axes:
            box.append(slice(0, n))
            continue
        side = int(length_ratio * n)
        low = int(rng.integers(0, n - side + 1))
        box.append(slice(low, low + side))
    return tuple(box)


def blur_cuboid(block: np.ndarray, factor: Sequence[float]) -> np.ndarray:
    """`block` (float32, (Z, Y, X)) downsampled by `factor` per axis and upsampled back to its shape, as
    PyTorch Connectomics' CutBlur does with scikit-image's ``resize``: the low-resolution shape is
    ``int(n / f)`` (at least 1); down: gaussian anti-aliasing with sigma ``max(0, (n / m - 1) / 2)`` then
    linear interpolation; up: nearest neighbour; pixel-centre grids, mirrored borders, clipped to the
    block's range. Equal in float32 to scikit-image's ``resize`` (the tests compare them).
    """
    block = np.asarray(block, np.float32)
    small_shape = tuple(max(1, int(n / f)) for n, f in zip(block.shape, factor))
    if small_shape == block.shape:
        return block.copy()
    factors = np.divide(block.shape, small_shape)
    smooth = ndimage.gaussian_filter(block, np.maximum(0, (factors - 1) / 2), mode="mirror")
    small = ndimage.zoom(smooth, 1 / factors, order=1, mode="mirror", grid_mode=True)
    np.clip(small, block.min(), block.max(), out=small)
    # nearest-neighbour upsampling on pixel-centre grids (scipy's own rounding of the source coordinates)
    return ndimage.zoom(small, np.divide(block.shape, small_shape), order=0, mode="mirror", grid_mode=True)


def _cuboid_channels(image, box):
    """The (C, z, y, x) float32 cuboid of a (Z, Y, X) or (C, Z, Y, X) image, on the image's own scale."""
    channels = image[np.newaxis] if image.ndim == 3 else image
    return channels[(slice(None),) + box].astype(np.float32)


def _paste(image, box, block):
    """A copy of `image` with the (C, z, y, x) float32 `block` cast to its dtype written at `box`."""
    out = image.copy()
    view = out[np.newaxis] if out.ndim == 3 else out
    view[(slice(None),) + box] = cast_like(block, image.dtype)
    return out


@AUGMENTATIONS.register()
class CutBlur(Augmentation):
    """A random cuboid of the image is downsampled by a factor drawn in [down_ratio_min, down_ratio_max]
    (in y and x; in z too with `downsample_z`) and upsampled back (Chen et al. 2020's CutBlur, in 3D, as in
    PyTorch Connectomics). The cuboid's sides are `length_ratio` of the image's. Image only; every channel
    gets the same cuboid and factor.

    Parameters
    ----------
    p : float
        Probability of applying it.
    length_ratio : float in [0, 1]
        Side of the cuboid over the side of the volume, per axis.
    down_ratio_min, down_ratio_max : float, 1 <= min <= max
        Range of the downsampling factor.
    downsample_z : bool
        Downsample along z as well (anisotropic EM data: leave False).

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.augment import CutBlur
    >>> image = np.random.default_rng(0).random((8, 64, 64)).astype(np.float32)
    >>> out = CutBlur(p=1.0)({"image": image}, np.random.default_rng(0))
    >>> out["image"].shape, int((out["image"] != image).sum()) <= 2 * 16 * 16
    ((8, 64, 64), True)
    """

    def __init__(
        self,
        p: float = 0.5,
        length_ratio: float = 0.25,
        down_ratio_min: float = 2.0,
        down_ratio_max: float = 8.0,
        downsample_z: bool = False,
    ):
        super().__init__(p)
        name = type(self).__name__
        self.length_ratio = check_number(length_ratio, name, "length_ratio", 0, 1)
        self.down_ratio_min = check_number(down_ratio_min, name, "down_ratio_min", 1)
        self.down_ratio_max = check_number(down_ratio_max, name, "down_ratio_max", self.down_ratio_min)
        if not isinstance(downsample_z, (bool, np.bool_)):
            raise fail(name, "downsample_z", "a bool", repr(downsample_z), TypeError)
        self.downsample_z = bool(downsample_z)

    def apply(self, sample: Sample, rng: np.random.Generator) -> Sample:
        image = sample[IMAGE]
        box = random_cuboid(image.shape[-3:], self.length_ratio, rng)
        ratio = rng.uniform(self.down_ratio_min, self.down_ratio_max)
        if any(s.stop == s.start for s in box):
            sample[IMAGE] = image.copy()
            return sample
        factor = (ratio if self.downsample_z else 1.0, ratio, ratio)
        block = _cuboid_channels(image, box)
        blurred = np.stack([blur_cuboid(channel, factor) for channel in block])
        sample[IMAGE] = _paste(image, box, blurred)
        return sample


@AUGMENTATIONS.register()
class CutNoise(Augmentation):
    """Noise added to a random cuboid of the image, clipped to the valid range ([0, 1] for float32 images,
    [0, 255] for uint8): uniform in [-scale, scale] ('uniform', PyTorch Connectomics') or normal with std
    `scale` ('gaussian'); `scale` is on the [0, 1] scale (times 255 for uint8). Single-section volumes get a
    cuboid spanning z. Image only; every channel gets the same cuboid and noise.

    Parameters
    ----------
    p : float
        Probability of applying it.
    length_ratio : float in [0, 1]
        Side of the cuboid over the side of the volume, per axis.
    mode : {'uniform', 'gaussian'}
    scale : float >= 0

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.augment import CutNoise
    >>> image = np.full((8, 64, 64), 0.5, np.float32)
    >>> out = CutNoise(p=1.0)({"image": image}, np.random.default_rng(0))["image"]
    >>> bool(np.abs(out - image).max() <= 0.2), int((out != image).sum()) <= 2 * 16 * 16
    (True, True)
    """

    def __init__(self, p: float = 0.5, length_ratio: float = 0.25, mode: str = "uniform", scale: float = 0.2):
        super().__init__(p)
        name = type(self).__name__
        self.length_ratio = check_number(length_ratio, name, "length_ratio", 0, 1)
        if mode not in NOISE_MODES:
            raise ValueError(f"{name}: `mode` must be one of {NOISE_MODES}; got {mode!r}")
        self.mode = mode
        self.scale = check_number(scale, name, "scale", 0)

    def apply(self, sample: Sample, rng: np.random.Generator) -> Sample:
        image = sample[IMAGE]
        shape = image.shape[-3:]
        box = random_cuboid(shape, self.length_ratio, rng, axes=(0, 1, 2) if shape[0] > 1 else (1, 2))
        size = tuple(s.stop - s.start for s in box)
        if self.mode == "uniform":
            noise = rng.uniform(-self.scale, self.scale, size)
        else:
            noise = rng.normal(0, self.scale, size)
        top = np.float32(255 if image.dtype == np.uint8 else 1)
        block = _cuboid_channels(image, box)
        block += (noise * top).astype(np.float32)  # the same noise in every channel
        np.clip(block, 0, top, out=block)
        sample[IMAGE] = _paste(image, box, block)
        return sample
