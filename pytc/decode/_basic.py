"""Affinities from boundary maps, connected components, relabeling and dust removal (thin wrappers over cc3d and
fastremap)."""

from __future__ import annotations

import cc3d
import fastremap
import numpy as np
from numpy.typing import ArrayLike

from ..kernels._offsets import as_offsets, overlap_slices
from ..validation import as_label_array, as_probabilities, check_ndim, check_number


def boundary_to_affinity(boundary: ArrayLike, offsets: ArrayLike | None = None) -> np.ndarray:
    """Affinities from a boundary probability map: ``aff[c, v] = 1 - max(p[v], p[v + offsets[c]])``.

    Parameters
    ----------
    boundary : ndarray, shape (Z, Y, X) or (Y, X)
        Boundary probability, float in [0, 1] or uint8 (scaled by 1/255); 1 = membrane. Values outside
        [0, 1] and NaN are rejected.
    offsets : sequence of int tuples, optional
        As in `pytc.kernels.seg_to_affinity`; default: the nearest neighbours.

    Returns
    -------
    ndarray, shape (C, *boundary.shape), float32; 0 where ``v + offsets[c]`` is outside.
    """
    fn = "boundary_to_affinity"
    p = np.asarray(boundary)
    check_ndim(p, fn, "boundary", (2, 3), "2D or 3D ((Y, X) or (Z, Y, X))")
    p = as_probabilities(p, fn, "boundary")
    offsets = as_offsets(offsets, p.ndim, fn)
    aff = np.zeros((len(offsets),) + p.shape, dtype=np.float32)
    for c, offset in enumerate(offsets):
        here, there = overlap_slices(offset, p.shape)
        aff[c][here] = 1 - np.maximum(p[here], p[there])
    return aff


def connected_components(labels: ArrayLike, connectivity: int = 6) -> np.ndarray:
    """Splits every label (or the True region of a bool mask) into connected components; 0 stays
    background; uint64 ids 1..N.

    `connectivity`: 6, 18 or 26 in 3D; 4 or 8 in 2D. Uses connected-components-3d.
    """
    labels = np.asarray(labels)
    labels = labels.view(np.uint8) if labels.dtype == bool else as_label_array(labels, "connected_components", "labels")
    return cc3d.connected_components(labels, connectivity=connectivity, out_dtype=np.uint64)


def relabel_sequential(seg: ArrayLike) -> np.ndarray:
    """Renumbers the ids of `seg` to 1..N in order of first appearance (0 kept); returns uint64."""
    seg = as_label_array(seg, "relabel_sequential", "seg")
    out, _ = fastremap.renumber(seg, preserve_zero=True, in_place=False)
    return out.astype(np.uint64, copy=False)


def remove_small_segments(seg: ArrayLike, min_size: int) -> np.ndarray:
    """Sets to 0 the segments with fewer than `min_size` voxels (counted per id); returns a new array."""
    seg = as_label_array(seg, "remove_small_segments", "seg")
    check_number(min_size, "remove_small_segments", "min_size", low=0)
    ids, counts = fastremap.unique(seg, return_counts=True)
    small = ids[(counts < min_size) & (ids != 0)]
    return fastremap.mask(seg, small, in_place=False) if len(small) else seg.copy()
