"""Affinity watershed with size-dependent single linkage (public wrapper of the compiled kernel)."""

from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.typing import ArrayLike

from .._extension import load
from .._slowdown import slowed
from ..validation import as_affinities, as_threads, check_number
from ._memory import empty

_ext = load()

DEFAULT_SIZE_THRESHOLD = 64
DEFAULT_DUST = 16


def watershed(
    affinities: ArrayLike,
    *,
    low: float = 0.0001,
    high: float = 0.9999,
    size_threshold: int = DEFAULT_SIZE_THRESHOLD,
    dust: int = DEFAULT_DUST,
    mask: ArrayLike | None = None,
    weight_threshold: float | None = None,
    threads: int | None = None,
    return_stats: bool = False,
) -> np.ndarray | tuple[np.ndarray, dict[str, int]]:
    """Over-segmentation of an affinity graph (zwatershed, Zlateski & Seung 2015).

    Watershed basins of the steepest-ascent graph of the affinities, merged by size-dependent
    single linkage, with small leftovers attached to their best neighbour or removed.

    Parameters
    ----------
    affinities : ndarray, shape (C, Z, Y, X), C >= 3
        float32 affinities in [0, 1] (1 = same object) or uint8 (scaled by 1/255). Only the
        first three channels are read: channel c at v is the edge between v and
        ``v + [(-1,0,0), (0,-1,0), (0,0,-1)][c]``. Values outside [0, 1] and NaN are rejected (apply
        the activation to logits first). Never modified.
    low : float
        Edges with affinity <= `low` are cut: they never link voxels into a basin and never merge
        fragments. Voxels with no edge above `low` are singleton basins (then dust).
    high : float
        Affinities >= `high` are all treated as maximal: voxels joined by such edges always end
        up in the same basin. Requires ``0 <= low <= high``.
    size_threshold : int
        Size-dependent single linkage: region-graph edges (maximum affinity between two basins)
        are taken in descending order and merge their two sides while the weight is above
        `weight_threshold` and either side has fewer than `size_threshold` voxels. 0 disables it.
        Default 64 voxels.
    dust : int
        Fragments with fewer than `dust` voxels after that are merged, again in descending order
        of the edges, into the neighbour they share the strongest edge with, as long as that edge
        is above `low`; the ones without such an edge (isolated by cut edges) are set to 0.
        0 keeps everything. Default 16 voxels.
    mask : array_like of bool, shape (Z, Y, X), optional
        Voxels where `mask` is False get label 0 and have no edges.
    weight_threshold : float, optional
        Weight above which the size rule merges; default `low` (the rule of the issue: any edge
        that is not cut). zwatershed's usual value is about 0.2-0.3 (fewer merges across weak
        boundaries).
    threads : int, optional
        Threads for the parallel stages (steepest ascent, plateau marking, basin labelling on
        z slabs, region-graph faces); default: OpenMP's. The result does not depend on it.
    return_stats : bool
        Also return a dict with the numbers of basins, region-graph edges, fragments and dust
        voxels.

    Returns
    -------
    fragments : ndarray, shape (Z, Y, X), uint64
        Ids 1..N, numbered in order of their first voxel (C order); 0 where `mask` is False and
        for removed dust.
    stats : dict
        Only if `return_stats` is True.

    Notes
    -----
    Stages: steepest ascent (each voxel points along its maximal incident edge(s), values clamped
    to `high`), plateau division by breadth-first search from plateau corners (in voxel order;
    direction order -z, -y, -x, +z, +y, +x), basins = connected sets of these pointers, region
    graph with the maximum affinity per basin pair, then the two single-linkage passes
    (`size_threshold` above `weight_threshold`, then `dust` above `low`) with ties in weight
    broken by ascending basin ids. Deterministic, equal to
    `pytc.kernels.watershed_ref`. Differs from waterz's watershed (which
    stops after the basins): waterz labels voxels without an edge above `low` as 0, here they
    are singleton basins that the dust rule removes when ``dust > 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.kernels._watershed import watershed
    >>> aff = np.ones((3, 1, 1, 6), dtype=np.float32)
    >>> aff[2, 0, 0, 3] = 0.0  # cut between x=2 and x=3
    >>> watershed(aff, size_threshold=0, dust=0)
    array([[[1, 1, 1, 2, 2, 2]]], dtype=uint64)
    """
    fn = "watershed"
    # float32 C-contiguous (3, Z, Y, X) input without a mask is used as is: the kernel looks for
    # values outside [0, 1] and NaN while it reads the affinities (saves a pass over them), and
    # as_affinities raises below if it saw one
    checked_in_kernel = (
        mask is None
        and isinstance(affinities, np.ndarray)
        and affinities.dtype == np.float32
        and affinities.ndim == 4
        and affinities.shape[0] == 3
        and affinities.flags.c_contiguous
    )
    aff = affinities if checked_in_kernel else as_affinities(affinities, fn)
    low = _threshold(low, "low", fn)
    high = _threshold(high, "high", fn)
    if low > high:
        raise ValueError(f"{fn}: `low` must be <= `high`; got low={low}, high={high}")
    weight_threshold = low if weight_threshold is None else _threshold(weight_threshold, "weight_threshold", fn)
    size_threshold = _count(size_threshold, "size_threshold", fn)
    dust = _count(dust, "dust", fn)
    threads = as_threads(threads, fn)
    shape = aff.shape[1:]
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != shape:
            raise ValueError(f"{fn}: `mask` must have shape {shape} (the affinities' Z, Y, X); got {mask.shape}")
        if mask.dtype != bool and not np.issubdtype(mask.dtype, np.integer):
            raise TypeError(f"{fn}: `mask` must be bool (or integer, nonzero = inside); got dtype {mask.dtype}")
        mask = np.ascontiguousarray(mask != 0, dtype=np.uint8)
    if aff.shape[0] != 3:
        aff = aff[:3]  # a C-contiguous view
    if math.prod(shape) == 0:
        fragments = np.zeros(shape, dtype=np.uint64)
        stats = dict(basins=0, region_edges=0, fragments=0, dust_voxels=0)
    else:
        fragments = empty(shape, np.uint64)
        stats, outside_seen = slowed(
            "watershed",
            _ext.watershed,
            aff,
            mask,
            low,
            high,
            size_threshold,
            weight_threshold,
            dust,
            fragments,
            threads,
        )
        if outside_seen:
            as_affinities(affinities, fn)  # raises the error that names the first bad value
    return (fragments, stats) if return_stats else fragments


def _threshold(value, arg, fn):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: `{arg}` must be a real number; got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{fn}: `{arg}` must be a finite number >= 0; got {value!r}")
    return value


def _count(value, arg, fn):
    return int(check_number(value, fn, arg, low=0, integer=True))
