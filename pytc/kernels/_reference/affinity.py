"""Reference for seg_to_affinity."""

import numpy as np

from .._offsets import as_offsets


def seg_to_affinity_ref(seg, offsets=None, *, dtype=np.float32, return_mask=False):
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
        here, there = [], []
        for o, n in zip(offset, seg.shape):
            lo, hi = max(0, -o), min(n, n - o)
            here.append(slice(lo, max(lo, hi)))
            there.append(slice(lo + o, max(lo, hi) + o))
        a, b = seg[tuple(here)], seg[tuple(there)]
        aff[c][tuple(here)] = (a == b) & (a != 0)
        if return_mask:
            valid[c][tuple(here)] = 1
    return (aff, valid) if return_mask else aff
