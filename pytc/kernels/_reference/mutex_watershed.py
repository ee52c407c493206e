"""Reference for mutex_watershed: plain Python, for small volumes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .._offsets import as_offsets


def mutex_watershed_ref(
    affinities: ArrayLike,
    offsets: ArrayLike,
    *,
    attractive: int | None = None,
    strides: Sequence[int] | None = None,
    randomize_strides: bool = False,
    mask: ArrayLike | None = None,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Mutex watershed (Wolf et al. 2018, Algorithm 1) with a sorted edge list and a dict of sets.

    Same arguments, edge order and labelling as `pytc.kernels.mutex_watershed`: edges sorted by
    descending weight (attractive: aff, repulsive: float32 1 - aff), ties by channel, then C-order
    voxel index; labels 1..K in order of each cluster's first voxel, 0 where masked.
    """
    aff = np.asarray(affinities)
    if aff.dtype == np.uint8:
        aff = aff.astype(np.float32) / np.float32(255)
    aff = aff.astype(np.float32, copy=False)
    shape = aff.shape[1:]
    ndim = len(shape)
    offsets = as_offsets(offsets, ndim, "mutex_watershed_ref")
    attractive = ndim if attractive is None else attractive
    strides = (1,) * ndim if strides is None else tuple(strides)
    inside = np.ones(shape, bool) if mask is None else np.asarray(mask) != 0
    keep = None
    if randomize_strides:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        p = 1.0 / float(np.prod(strides))
        keep = [rng.random(shape, dtype=np.float32) < p for _ in range(len(offsets) - attractive)]

    n = int(np.prod(shape))
    edges = []  # (weight, edge index, u, v, is_attractive)
    for c, offset in enumerate(offsets):
        is_attractive = c < attractive
        for u in np.ndindex(*shape):
            v = tuple(int(a + o) for a, o in zip(u, offset))
            if not all(0 <= a < s for a, s in zip(v, shape)):
                continue
            if not (inside[u] and inside[v]):
                continue
            if not is_attractive:
                if keep is not None:
                    if not keep[c - attractive][u]:
                        continue
                elif any(a % s for a, s in zip(u, strides)):
                    continue
            weight = aff[(c,) + u] if is_attractive else np.float32(1) - aff[(c,) + u]
            iu, iv = np.ravel_multi_index(u, shape), np.ravel_multi_index(v, shape)
            edges.append((float(weight), c * n + int(iu), int(iu), int(iv), is_attractive))
    edges.sort(key=lambda e: (-e[0], e[1]))

    parent = list(range(n))
    mutexes = {}  # root -> set of roots it must not merge with

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for _, _, u, v, is_attractive in edges:
        ru, rv = find(u), find(v)
        if ru == rv:
            continue
        if is_attractive:
            if rv in mutexes.get(ru, ()):
                continue
            parent[rv] = ru
            for other in mutexes.pop(rv, set()):
                mutexes[other].discard(rv)
                mutexes[other].add(ru)
                mutexes.setdefault(ru, set()).add(other)
        else:
            mutexes.setdefault(ru, set()).add(rv)
            mutexes.setdefault(rv, set()).add(ru)

    labels = np.zeros(n, dtype=np.uint64)
    flat_inside = inside.ravel()
    ids = {}
    for x in range(n):
        if flat_inside[x]:
            labels[x] = ids.setdefault(find(x), len(ids) + 1)
    return labels.reshape(shape)
