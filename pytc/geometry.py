"""Array geometry shared by data, augment and inference: centred crops and sliding-window grids.

It needs numpy only and sits below those packages, so `pytc.data` (test-mode windows of a `VolumeDataset`) and
`pytc.inference` (the windows of `sliding_windows`) compute one grid, and `pytc.augment` and `pytc.data` one crop.
"""

import itertools
from collections.abc import Sequence

import numpy as np


def center_crop(array: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """The centered (…, *shape) crop of the last len(shape) axes of `array` (a view)."""
    spatial = array.shape[-len(shape) :]
    if any(s < t for s, t in zip(spatial, shape)):
        raise ValueError(
            f"center_crop: `array` must be at least {tuple(shape)} on its last axes; got spatial shape {spatial}"
        )
    starts = [(s - t) // 2 for s, t in zip(spatial, shape)]
    crop = tuple(slice(a, a + t) for a, t in zip(starts, shape))
    return array[(Ellipsis,) + crop]


def grid_starts(size: int, window: int, stride: int) -> list[int]:
    """Start positions of windows of `window` voxels every `stride` voxels along an axis of `size`, the last
    window pushed back inside so it ends at `size`. The window must fit: `window` <= `size`.

    >>> grid_starts(11, 4, 2)
    [0, 2, 4, 6, 7]
    """
    if window > size:
        raise ValueError(f"grid_starts: `window` must be at most the axis size {size}; got {window}")
    starts = list(range(0, size - window + 1, stride))
    if starts[-1] != size - window:
        starts.append(size - window)
    return starts


def grid(shape: Sequence[int], window: Sequence[int], stride: Sequence[int]) -> list[tuple[int, ...]]:
    """Every window start over a volume of `shape` (see `grid_starts`), in C order."""
    return list(itertools.product(*(grid_starts(n, w, s) for n, w, s in zip(shape, window, stride))))
