"""Mutex watershed on an affinity graph (public wrapper of the compiled kernel)."""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .._extension import load
from .._slowdown import slowed
from ..validation import as_affinities, as_threads, check_ndim
from ._memory import empty
from ._offsets import as_offsets

_ext = load()


def mutex_watershed(
    affinities: ArrayLike,
    offsets: ArrayLike,
    *,
    attractive: int | None = None,
    strides: Sequence[int] | None = None,
    randomize_strides: bool = False,
    mask: ArrayLike | None = None,
    seed: int | np.random.Generator | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Mutex watershed segmentation of an affinity graph (Wolf et al. 2018).

    Channel c links voxel v with ``v + offsets[c]`` (edges leaving the volume are skipped). The
    first `attractive` channels are attractive edges of weight ``aff``, the others repulsive
    edges of weight ``1 - aff``. All edges are processed once by descending weight (ties: by
    channel, then C-order voxel index): an attractive edge merges the clusters of its ends unless
    a repulsive constraint (mutex) exists between them; a repulsive edge between two clusters
    adds a mutex. No threshold or seeds are needed.

    Parameters
    ----------
    affinities : ndarray, shape (C, Z, Y, X) or (C, Y, X)
        float32 in [0, 1] (other values and NaN rejected) or uint8 (scaled by 1/255). 1 = same
        object. Never modified; non-C-contiguous or uint8 input is copied.
    offsets : sequence of int tuples, shape (C, ndim)
        Offset of each channel, e.g. ``[(-1, 0, 0), (0, -1, 0), (0, 0, -1), (-3, 0, 0), ...]``.
    attractive : int, optional
        Number of leading attractive channels; default ndim (the nearest neighbours).
    strides : sequence of ndim ints >= 1, optional
        Use only the repulsive edges of voxels on this grid (``z % strides[0] == 0`` and so on);
        long-range repulsive edges are many and biased towards splitting.
    randomize_strides : bool
        Instead of the grid, keep each repulsive edge with probability ``1 / prod(strides)``,
        drawn with ``numpy.random.default_rng(seed)`` (one float32 draw per repulsive channel
        and voxel, channel by channel).
    mask : ndarray of bool or int, shape (Z, Y, X) or (Y, X), optional
        Voxels where mask is False (0) get label 0 and take part in no edge.
    seed : int or numpy.random.Generator, optional
        Seed of `randomize_strides`.
    threads : int, optional
        Threads for building and sorting the edges (the greedy pass is sequential); default:
        OpenMP's.

    Returns
    -------
    labels : ndarray of uint64, shape (Z, Y, X) or (Y, X)
        Segment ids 1..K, numbered in C order of each segment's first voxel; 0 where masked.

    Notes
    -----
    Edges are sorted as 64-bit keys (weight bits, edge index) with an LSD radix sort; mutexes are
    kept in a hash set of root pairs, merged smaller into larger. Cost: O(E) sort plus a near
    linear union-find pass over the E edges; about 16 bytes per edge of memory.

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.kernels import mutex_watershed
    >>> aff = np.zeros((3, 1, 4), np.float32)  # 2D: (C, Y, X)
    >>> aff[1] = [[0.0, 0.9, 0.2, 0.8]]   # (0, -1): strong links 0-1 and 2-3, weak 1-2
    >>> aff[2] = [[1.0, 1.0, 0.3, 1.0]]   # (0, -2): repulsive weight 1 - aff = 0.7 on 0-2
    >>> mutex_watershed(aff, [(-1, 0), (0, -1), (0, -2)])
    array([[1, 1, 2, 2]], dtype=uint64)
    """
    fn = "mutex_watershed"
    array = np.asarray(affinities)
    check_ndim(array, fn, "affinities", (3, 4), "3D (C, Y, X) or 4D (C, Z, Y, X)")
    ndim = array.ndim - 1
    if ndim == 2:
        array = array[:, np.newaxis]
    aff = as_affinities(array, fn, min_channels=1)
    if ndim == 2:
        aff_shape = (aff.shape[0],) + aff.shape[2:]
    else:
        aff_shape = aff.shape
    n_channels = aff.shape[0]
    offsets = _check_offsets(offsets, ndim, n_channels, aff_shape, fn)
    attractive = _check_attractive(attractive, ndim, n_channels, fn)
    strides = _check_strides(strides, ndim, fn)
    volume = aff.shape[1:]
    mask = _check_mask(mask, aff_shape[1:], fn)
    threads = as_threads(threads, fn)

    keep = None
    if randomize_strides:
        keep = random_keep(volume, n_channels - attractive, strides, seed)
        strides = (1,) * ndim
    if ndim == 2:
        offsets = np.ascontiguousarray(np.pad(offsets, ((0, 0), (1, 0))))
        strides = (1,) + tuple(strides)
        if mask is not None:
            mask = mask[np.newaxis]
    labels = empty(volume, np.uint64)
    if labels.size:
        slowed(
            "mutex_watershed",
            _ext.mutex_watershed,
            aff,
            offsets,
            attractive,
            mask,
            keep,
            list(strides),
            labels,
            threads,
        )
    return labels.reshape(aff_shape[1:])


def random_keep(volume, n_repulsive, strides, seed):
    """uint8 (n_repulsive, *volume): 1 with probability 1/prod(strides), drawn channel by channel."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    probability = 1.0 / float(np.prod(strides))
    keep = np.empty((n_repulsive,) + tuple(volume), dtype=np.uint8)
    for c in range(n_repulsive):
        keep[c] = rng.random(tuple(volume), dtype=np.float32) < probability
    return keep


def _check_offsets(offsets, ndim, n_channels, shape, fn):
    if offsets is None:
        raise TypeError(f"{fn}: `offsets` must be given, one {ndim}-tuple per channel; got None")
    offsets = as_offsets(offsets, ndim, fn)
    if len(offsets) != n_channels:
        raise ValueError(
            f"{fn}: `offsets` must have one entry per channel (len(offsets) == affinities.shape[0] = "
            f"{n_channels}); got {len(offsets)} offsets for affinities of shape {shape}"
        )
    return offsets


def _check_attractive(attractive, ndim, n_channels, fn):
    if attractive is None:
        attractive = ndim
    try:
        value = operator.index(attractive)
    except TypeError:
        raise TypeError(f"{fn}: `attractive` must be an int or None; got {attractive!r}") from None
    if not 0 <= value <= n_channels:
        raise ValueError(f"{fn}: `attractive` must be in [0, {n_channels}] (the number of channels); got {value}")
    return value


def _check_strides(strides, ndim, fn):
    if strides is None:
        return (1,) * ndim
    try:
        values = tuple(operator.index(s) for s in strides)
    except TypeError:
        raise TypeError(f"{fn}: `strides` must be a sequence of {ndim} ints >= 1; got {strides!r}") from None
    if len(values) != ndim or min(values) < 1:
        raise ValueError(f"{fn}: `strides` must be a sequence of {ndim} ints >= 1; got {strides!r}")
    return values


def _check_mask(mask, shape, fn):
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != bool and not np.issubdtype(mask.dtype, np.integer):
        raise TypeError(f"{fn}: `mask` must be a bool or integer array; got dtype {mask.dtype}")
    if mask.shape != tuple(shape):
        raise ValueError(f"{fn}: `mask` must have shape {tuple(shape)} (affinities.shape[1:]); got {mask.shape}")
    return np.ascontiguousarray(mask != 0, dtype=np.uint8)
