"""Training crops: reading a region of a lazily opened volume, choosing where to crop (anywhere, or around the
voxels of a valid mask), and rejection sampling."""

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


# blocks of the grid on which `valid_counts` counts a valid mask's voxels
VALID_BLOCK = (8, 32, 32)


def valid_counts(mask: Any, block: Sequence[int] = VALID_BLOCK) -> np.ndarray:
    """The number of nonzero voxels of a (lazily read) 3D mask in each block of a grid of `block`-sized blocks
    (the last ones cut by the faces), read one slab of blocks at a time: int64 of shape ceil(shape / block)."""
    grid = tuple(-(-n // b) for n, b in zip(mask.shape, block))
    bz, by, bx = block
    counts = np.zeros(grid, np.int64)
    for gz in range(grid[0]):
        slab = np.asarray(mask[gz * bz : (gz + 1) * bz]) != 0
        slab = np.pad(
            slab, [(0, bz - slab.shape[0]), (0, grid[1] * by - slab.shape[1]), (0, grid[2] * bx - slab.shape[2])]
        )
        counts[gz] = slab.reshape(bz, grid[1], by, grid[2], bx).sum(axis=(0, 2, 4))
    return counts


def random_valid_voxel(
    rng: np.random.Generator, mask: Any, counts: np.ndarray, block: Sequence[int] = VALID_BLOCK
) -> tuple[int, ...]:
    """A voxel drawn uniformly among the nonzero voxels of `mask`, given its `valid_counts`: a block with
    probability proportional to its count, then one of the block's nonzero voxels (only that block is read)."""
    cumulative = np.cumsum(counts.ravel())
    k = int(np.searchsorted(cumulative, rng.integers(cumulative[-1]), side="right"))
    lo = [g * b for g, b in zip(np.unravel_index(k, counts.shape), block)]
    region = np.asarray(mask[tuple(slice(l, l + b) for l, b in zip(lo, block))]) != 0
    inside = np.unravel_index(np.flatnonzero(region)[rng.integers(counts.flat[k])], region.shape)
    return tuple(int(l + i) for l, i in zip(lo, inside))


def start_around(
    rng: np.random.Generator,
    voxel: Sequence[int],
    shape: Sequence[int],
    read: Sequence[int],
    sample: Sequence[int] | None = None,
) -> tuple[int, ...]:
    """A random start of a `read` crop inside a volume of `shape` whose centered `sample` part (the part left
    after augmentation; default the whole crop) contains `voxel`; uniform over such starts. Near a face where
    no crop's `sample` part reaches the voxel, the crop nearest to it."""
    sample = read if sample is None else sample
    start = []
    for v, n, r, s in zip(voxel, shape, read, sample):
        margin = (r - s) // 2
        lo, hi = max(0, v - s + 1 - margin), min(n - r, v - margin)
        start.append(int(rng.integers(lo, hi + 1)) if lo <= hi else min(max(v - margin, 0), n - r))
    return tuple(start)


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
