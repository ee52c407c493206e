"""Offsets of affinity channels: defaults and validation."""

import numpy as np

# PyTorch Connectomics' convention: channel c links voxel v with v + offsets[c].
DEFAULT_OFFSETS = {
    2: ((-1, 0), (0, -1)),
    3: ((-1, 0, 0), (0, -1, 0), (0, 0, -1)),
}
# A 12-channel long-range set for neuron affinities: the nearest neighbours, then 2, 3 and 4 sections
# in z and 3, 9 and 27 voxels in y and x.
LONG_RANGE_OFFSETS = DEFAULT_OFFSETS[3] + (
    (-2, 0, 0),
    (0, -3, 0),
    (0, 0, -3),
    (-3, 0, 0),
    (0, -9, 0),
    (0, 0, -9),
    (-4, 0, 0),
    (0, -27, 0),
    (0, 0, -27),
)


def as_offsets(offsets, ndim, fn="seg_to_affinity"):
    """Returns `offsets` as a C-contiguous (C, ndim) int64 array, the default for `ndim` if None."""
    if offsets is None:
        offsets = DEFAULT_OFFSETS[ndim]
    try:
        array = np.asarray(offsets)
    except ValueError as e:  # ragged nested sequences
        raise ValueError(f"{fn}: `offsets` must be a list of {ndim}-tuples of integers; got {offsets!r}") from e
    if array.size == 0:
        return np.zeros((0, ndim), dtype=np.int64)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{fn}: `offsets` must contain integers; got dtype {array.dtype} from {offsets!r}")
    if array.ndim != 2 or array.shape[1] != ndim:
        raise ValueError(
            f"{fn}: `offsets` must hold one {ndim}-tuple per channel (the volume is {ndim}D); got offsets of shape "
            f"{array.shape} from {offsets!r}"
        )
    return np.ascontiguousarray(array, dtype=np.int64)


def overlap_slices(offset, shape):
    """Slices (here, there) selecting the voxels v whose neighbour v + offset is inside `shape`,
    and those neighbours; both are empty when no voxel has one."""
    here, there = [], []
    for o, n in zip(offset, shape):
        lo = max(0, -o)
        hi = max(lo, min(n, n - o))
        here.append(slice(lo, hi))
        there.append(slice(lo + o, hi + o))
    return tuple(here), tuple(there)
