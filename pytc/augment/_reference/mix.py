"""Reference for pytc.augment._mix.rotated_overlaps: each candidate copy built as a volume, then counted."""

import numpy as np


def rotate_nearest_ref(volume, angle):
    """Every section of `volume` (Z, Y, X) rotated by `angle` radians about its centre: output (y, x) takes the
    nearest source voxel (coordinates rounded half up), 0 where the source falls outside."""
    from pytc.augment._warp import rotation_matrix

    h, w = volume.shape[1:]
    center = ((h - 1) / 2.0, (w - 1) / 2.0)
    m = rotation_matrix(angle, center, center)  # output (y, x) -> source (y, x)
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    sy = np.floor(m[0, 0] * yy + m[0, 1] * xx + m[0, 2] + 0.5).astype(int)
    sx = np.floor(m[1, 0] * yy + m[1, 1] * xx + m[1, 2] + 0.5).astype(int)
    inside = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
    out = np.zeros_like(volume)
    out[:, inside] = volume[:, sy[inside], sx[inside]]
    return out


def rotated_overlaps_ref(foreground, angles):
    """(moved, overlap), each (len(angles), 2): for each angle (radians) and z flip (0 none, 1 reversed), the
    voxel count of the rotated copy of the (Z, Y, X) bool `foreground` and of its overlap with the original."""
    foreground = np.asarray(foreground, bool)
    moved = np.zeros((len(angles), 2), np.int64)
    overlap = np.zeros((len(angles), 2), np.int64)
    for a, angle in enumerate(angles):
        for flip in (0, 1):
            copy = rotate_nearest_ref(foreground[::-1] if flip else foreground, angle)
            moved[a, flip] = np.count_nonzero(copy)
            overlap[a, flip] = np.count_nonzero(copy & foreground)
    return moved, overlap
