"""Training crops: reading a region of a lazily opened volume, choosing where to crop, and rejection sampling."""

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from ..sample import LABEL, MASK


def read_region(volume: Any, start: Sequence[int], shape: Sequence[int], pad_mode: str = "reflect") -> np.ndarray:
    """The region [start, start + shape) of a lazily read volume; parts outside are padded by
    reflection (or `pad_mode` for np.pad)."""
    lo = [max(0, s) for s in start]
    hi = [min(n, s + k) for n, s, k in zip(volume.shape, start, shape)]
    if any(l >= h for l, h in zip(lo, hi)):
        raise ValueError(f"read_region: region at {start} of shape {shape} misses the volume {volume.shape}")
    data = np.asarray(volume[tuple(slice(l, h) for l, h in zip(lo, hi))])
    pad = [(l - s, s + k - h) for s, k, l, h in zip(start, shape, lo, hi)]
    if any(a or b for a, b in pad):
        data = np.pad(data, pad, mode=pad_mode)
    return data


def widen_borders(label: np.ndarray, radius: int) -> np.ndarray:
    """Sets to 0 the voxels within `radius` (in y-x, per section) of another id: wider instance borders."""
    if radius <= 0:
        return label
    size = (1, 2 * radius + 1, 2 * radius + 1)
    border = ndimage.maximum_filter(label, size) != ndimage.minimum_filter(label, size)
    out = label.copy()
    out[border] = 0
    return out


def volume_probabilities(shapes: Sequence[Sequence[int]], read: Sequence[int]) -> np.ndarray:
    """The probability of drawing a crop of `read` from each volume of `shapes`: proportional to the number of
    crop positions in it, so every position of every volume is equally likely."""
    sizes = np.array([np.prod([n - r + 1 for n, r in zip(s, read)]) for s in shapes], float)
    return sizes / sizes.sum()


def random_start(rng: np.random.Generator, shape: Sequence[int], read: Sequence[int]) -> tuple[int, ...]:
    """A uniformly random start of a `read` crop inside a volume of `shape`."""
    return tuple(int(rng.integers(0, n - r + 1)) for n, r in zip(shape, read))


def accept_crop(
    sample: dict,
    rng: np.random.Generator,
    min_foreground: int = 0,
    reject_p: float = 0.95,
    min_instances: int = 0,
    min_valid: float = 0.0,
) -> bool:
    """Rejection sampling of a crop (see `VolumeDataset`): False when its valid-mask fraction is below
    `min_valid` or it has fewer than `min_instances` distinct nonzero ids; with fewer than `min_foreground`
    labelled voxels, False with probability `reject_p`."""
    label, mask = sample.get(LABEL), sample.get(MASK)
    if mask is not None and mask.mean() < min_valid:
        return False
    if label is not None and min_instances > 0 and len(np.unique(label[label != 0])) < min_instances:
        return False
    if label is not None and min_foreground > 0 and np.count_nonzero(label) < min_foreground:
        return rng.random() >= reject_p
    return True
