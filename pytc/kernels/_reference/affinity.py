"""Reference for seg_to_affinity."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .._offsets import as_offsets, overlap_slices


def seg_to_affinity_ref(
    seg: ArrayLike, offsets: ArrayLike | None = None, *, dtype: DTypeLike = np.float32, return_mask: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Affinity graph of a segmentation by numpy slicing; see `pytc.kernels.seg_to_affinity`.

    For each offset o, the voxels v whose neighbour v + o lies inside the volume form one
    rectangular slice on every axis; comparing that slice with the slice shifted by o gives
    the channel at once.
    """
    seg = np.asarray(seg)
    offsets = as_offsets(offsets, seg.ndim)
    aff = np.zeros((len(offsets),) + seg.shape, dtype=dtype)
    valid = np.zeros((len(offsets),) + seg.shape, dtype=np.uint8) if return_mask else None
    for c, offset in enumerate(offsets):
        here, there = overlap_slices(offset, seg.shape)
        a, b = seg[here], seg[there]
        aff[c][here] = (a == b) & (a != 0)
        if return_mask:
            valid[c][here] = 1
    return (aff, valid) if return_mask else aff
