"""Plain references of the decoders' fast paths, written for clarity (tests compare with them)."""

import heapq

import numpy as np


def seeded_watershed_ref(landscape, markers, mask):
    """Meyer's flooding with a heap of (level, arrival order, voxel): the semantics of
    `pytc.decode.seeded_watershed` (uint8 landscape, 6-connectivity, -z +z -y +y -x +x order)."""
    out = markers.astype(np.int64).copy()
    heap, order = [], 0
    for v in zip(*np.nonzero(out)):  # raster order
        heap.append((int(landscape[v]), order, v))
        order += 1
    heapq.heapify(heap)
    steps = [(-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1)]
    while heap:
        level, _, v = heapq.heappop(heap)
        for step in steps:
            u = tuple(a + b for a, b in zip(v, step))
            if not all(0 <= c < n for c, n in zip(u, out.shape)) or out[u] != 0 or not mask[u]:
                continue
            out[u] = out[v]
            heapq.heappush(heap, (max(int(landscape[u]), level), order, u))
            order += 1
    return out
