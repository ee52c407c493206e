"""Reference for pytc.augment._warp.affine_slices: scipy.ndimage.map_coordinates per slice."""

import numpy as np
from scipy import ndimage


def affine_slices_ref(src, matrices, order, out_shape=None):
    """scipy's map_coordinates (mode='nearest') at the coordinates matrices[z] @ (y, x, 1)."""
    out_shape = out_shape or src.shape
    yy, xx = np.meshgrid(np.arange(out_shape[1]), np.arange(out_shape[2]), indexing="ij")
    out = np.empty(out_shape, np.float64 if order else src.dtype)
    for z in range(out_shape[0]):
        m = matrices[z]
        coords = np.stack([m[0, 0] * yy + m[0, 1] * xx + m[0, 2], m[1, 0] * yy + m[1, 1] * xx + m[1, 2]])
        if order == 0:
            coords = np.floor(coords + 0.5)  # round half up, as the kernel does
        out[z] = ndimage.map_coordinates(src[z], coords, order=order, mode="nearest")
    return out
