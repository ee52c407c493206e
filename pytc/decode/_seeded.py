"""Seeded watershed on a quantised landscape (numba): Meyer's flooding with 256 first-in first-out queues.

Voxels flood in order of their level (0..255), first in first out within a level; a voxel takes the label of
the neighbour that reached it first (6-connectivity, neighbours in the order -z, +z, -y, +y, -x, +x). A voxel
reached from a higher level than its own floods at that level (the flood never goes back down). Each voxel is
queued at most once: O(N) time, one int64 link per voxel.
"""

import numba
import numpy as np


@numba.njit(cache=True)
def seeded_watershed_kernel(landscape, mask, out):
    """Floods `out` (int64, the markers; 0 = unlabelled) from its nonzero voxels over `landscape` (uint8),
    within `mask` (bool). All arrays are C-contiguous, of one 3D shape; `out` is updated in place."""
    nz, ny, nx = landscape.shape
    n = nz * ny * nx
    land, inside, labels = landscape.ravel(), mask.ravel(), out.ravel()
    following = np.full(n, -1, np.int64)  # linked lists, one per level
    head = np.full(256, -1, np.int64)
    tail = np.full(256, -1, np.int64)
    for v in range(n):  # the seeds, in raster order
        if labels[v] != 0:
            level = land[v]
            if tail[level] == -1:
                head[level] = v
            else:
                following[tail[level]] = v
            tail[level] = v
    plane = ny * nx
    for level in range(256):
        while head[level] != -1:
            v = head[level]
            head[level] = following[v]
            if head[level] == -1:
                tail[level] = -1
            z, rest = divmod(v, plane)
            y, x = divmod(rest, nx)
            for k in range(6):
                if k == 0:
                    ok, u = z > 0, v - plane
                elif k == 1:
                    ok, u = z < nz - 1, v + plane
                elif k == 2:
                    ok, u = y > 0, v - nx
                elif k == 3:
                    ok, u = y < ny - 1, v + nx
                elif k == 4:
                    ok, u = x > 0, v - 1
                else:
                    ok, u = x < nx - 1, v + 1
                if not ok or labels[u] != 0 or not inside[u]:
                    continue
                labels[u] = labels[v]
                target = max(np.int64(land[u]), np.int64(level))
                if tail[target] == -1:
                    head[target] = u
                else:
                    following[tail[target]] = u
                tail[target] = u
    return out
