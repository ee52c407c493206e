"""Reference affinity watershed (zwatershed), plain Python loops for small volumes.

Zlateski & Seung 2015, "Image segmentation by size-dependent single linkage clustering of a
watershed basin graph" (arXiv:1505.00249), with the rules documented in
`pytc.kernels.watershed`; written for clarity, not speed (seconds for 10^4 voxels).
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.typing import ArrayLike

from ...validation import as_affinities

# direction d: -z, -y, -x, +z, +y, +x; opposite(d) = (d + 3) % 6
DIRECTIONS = ((-1, 0, 0), (0, -1, 0), (0, 0, -1), (1, 0, 0), (0, 1, 0), (0, 0, 1))


class _UnionFind:
    def __init__(self, n):
        self.parent = list(range(n))

    def find(self, x):
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a, b):
        """Joins the sets of a and b; the smaller root becomes the root. Returns (root, child) or None."""
        a, b = self.find(a), self.find(b)
        if a == b:
            return None
        root, child = min(a, b), max(a, b)
        self.parent[child] = root
        return root, child


def _edge(aff, v, d, mask):
    """Affinity of the edge from voxel v along direction d, or None if it does not exist."""
    shape = aff.shape[1:]
    u = tuple(int(p + o) for p, o in zip(v, DIRECTIONS[d]))
    if not all(0 <= p < n for p, n in zip(u, shape)) or not mask[u]:
        return None, u
    channel = d % 3
    at = v if d < 3 else u  # channel c at w links w with w + offsets[c]
    return float(aff[(channel,) + at]), u


def watershed_ref(
    affinities: ArrayLike,
    *,
    low: float = 0.0001,
    high: float = 0.9999,
    size_threshold: int = 64,
    dust: int = 16,
    mask: ArrayLike | None = None,
    weight_threshold: float | None = None,
) -> np.ndarray:
    """Same contract as `pytc.kernels.watershed` (without threads)."""
    aff = as_affinities(affinities, "watershed_ref")
    weight_threshold = low if weight_threshold is None else weight_threshold
    shape = aff.shape[1:]
    mask = np.ones(shape, bool) if mask is None else np.asarray(mask) != 0
    voxels = list(np.ndindex(*shape))  # C order
    index = {v: i for i, v in enumerate(voxels)}

    # 1. steepest ascent: usable edges (> low), clamped to high; point along the maximal ones.
    pointers = {}
    for v in voxels:
        pointers[v] = set()
        if not mask[v]:
            continue
        values = {}
        for d in range(6):
            a, u = _edge(aff, v, d, mask)
            if a is not None and a > low:
                values[d] = min(a, high)
        if values:
            top = max(values.values())
            pointers[v] = {d for d, a in values.items() if a == top}

    def target(v, d):
        return tuple(p + o for p, o in zip(v, DIRECTIONS[d]))

    def points_back(v, d):
        return (d + 3) % 6 in pointers[target(v, d)]

    # 2. plateau division: breadth-first from the corners (voxels with a one-way pointer).
    queue = deque(v for v in voxels if any(not points_back(v, d) for d in pointers[v]))
    queued = set(queue)
    while queue:
        v = queue.popleft()
        keep = None
        for d in sorted(pointers[v]):
            u = target(v, d)
            if points_back(v, d):
                if u not in queued:
                    queued.add(u)
                    queue.append(u)
            else:
                keep = d
        pointers[v] = {keep}

    # 3. basins: connected sets of pointers, numbered by first voxel.
    uf = _UnionFind(len(voxels))
    for v in voxels:
        for d in pointers[v]:
            uf.union(index[v], index[target(v, d)])
    basin = np.zeros(shape, np.int64)
    root_id = {}
    for v in voxels:
        if mask[v]:
            basin[v] = root_id.setdefault(uf.find(index[v]), len(root_id) + 1)
    n_basins = len(root_id)
    size = np.bincount(basin.ravel(), minlength=n_basins + 1).tolist()
    size[0] = 0

    # 4. region graph: maximum affinity between adjacent basins.
    graph = {}
    for v in voxels:
        for d in range(3):
            a, u = _edge(aff, v, d, mask)
            if a is None or not mask[v]:
                continue
            pair = tuple(sorted((int(basin[v]), int(basin[u]))))
            if pair[0] != pair[1] and a > min(low, weight_threshold):
                graph[pair] = max(graph.get(pair, a), a)
    edges = sorted(graph.items(), key=lambda item: (-item[1], item[0]))

    # 5. size-dependent single linkage, then dust.
    sets = _UnionFind(n_basins + 1)
    for min_size, above in ((size_threshold, weight_threshold), (dust, low)):
        for (a, b), w in edges:
            if min_size == 0 or not w > above:
                break
            ra, rb = sets.find(a), sets.find(b)
            if ra != rb and (size[ra] < min_size or size[rb] < min_size):
                root, child = sets.union(ra, rb)
                size[root] += size[child]
    relabel = np.zeros(n_basins + 1, np.uint64)
    fragment_id = {}
    for b in range(1, n_basins + 1):
        r = sets.find(b)
        if size[r] >= dust:
            relabel[b] = fragment_id.setdefault(r, len(fragment_id) + 1)
    return relabel[basin]
