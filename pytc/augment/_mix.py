"""Numba kernel for CopyPaste: how much each flipped/rotated copy of the foreground overlaps the original.

A candidate copy reads, at output (z, y, x), the foreground at (z or Z-1-z, source of (y, x)), the source
being the nearest voxel of a rotation about the section's centre (-1 where it falls outside: nothing is
copied from outside, as with torchvision's rotate and fill 0 in PyTorch Connectomics). The rotation is the
same in every section, so it is a (Y*X,) table of flat source indices per angle.
"""

import numba
import numpy as np


def rotation_sources(angle, shape):
    """(Y*X,) int64 flat source index of each output (y, x) for a rotation by `angle` radians about the
    centre of a (Y, X) section; nearest voxel (rounding half up), -1 outside the section."""
    from ._warp import rotation_matrix

    h, w = shape
    center = ((h - 1) / 2.0, (w - 1) / 2.0)
    m = rotation_matrix(angle, center, center)
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    sy = np.floor(m[0, 0] * yy + m[0, 1] * xx + m[0, 2] + 0.5).astype(np.int64)
    sx = np.floor(m[1, 0] * yy + m[1, 1] * xx + m[1, 2] + 0.5).astype(np.int64)
    inside = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
    return np.where(inside, sy * w + sx, -1).ravel()


@numba.njit(cache=True, parallel=True)
def rotated_overlaps(foreground, sources):
    """For every angle a (rows of `sources`) and flip f (0: none, 1: z reversed), the number of voxels of the
    copy (`moved[a, f]`) and of those on the original foreground (`overlap[a, f]`).

    foreground: (Z, Y*X) uint8 (0/1), C-contiguous; sources: (A, Y*X) int64 from `rotation_sources`.
    The 2A candidates run in parallel; each is one pass over the volume.
    """
    n_angles, n_xy = sources.shape
    n_z = foreground.shape[0]
    moved = np.zeros((n_angles, 2), np.int64)
    overlap = np.zeros((n_angles, 2), np.int64)
    for job in numba.prange(2 * n_angles):
        a = job // 2
        flip = job % 2
        src = sources[a]
        m = 0
        o = 0
        for z in range(n_z):
            zs = n_z - 1 - z if flip else z
            row = foreground[zs]
            here = foreground[z]
            for i in range(n_xy):
                s = src[i]
                if s >= 0 and row[s]:
                    m += 1
                    if here[i]:
                        o += 1
        moved[a, flip] = m
        overlap[a, flip] = o
    return moved, overlap
