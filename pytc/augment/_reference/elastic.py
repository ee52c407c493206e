"""References for pytc.augment._elastic: the full-resolution field in numpy, scipy's map_coordinates."""

import numpy as np
from scipy import ndimage


def _bspline_1d(n, spacing, grid):
    """(n, grid) matrix: value at voxel i of the cubic B-spline with coefficients on the control grid."""
    u = np.arange(n) / spacing + 1.0
    i = np.floor(u).astype(int)
    t = u - i
    w = np.stack([(1 - t) ** 3, 3 * t**3 - 6 * t**2 + 4, -3 * t**3 + 3 * t**2 + 3 * t + 1, t**3], 1) / 6
    m = np.zeros((n, grid))
    for k in range(4):
        m[np.arange(n), i - 1 + k] = w[:, k]
    return m


def field_from_coarse_ref(coef, spacing, shape, alpha):
    """Full-resolution (3, Z, Y, X) displacement (dz, dy, dx) of the coarse coefficients that
    elastic_2d ((2, Gy, Gx): dz = 0, same (dy, dx) for all z) or elastic_3d ((3, Gz, Gy, Gx)) use."""
    ndim = coef.shape[0]
    mats = [_bspline_1d(n, spacing, g) for n, g in zip(shape[-ndim:], coef.shape[1:])]
    comps = []
    for c in range(ndim):
        f = coef[c]
        for axis, m in enumerate(mats):
            f = np.moveaxis(np.tensordot(m, f, axes=([1], [axis])), 0, axis)
        comps.append(np.clip(f, -alpha, alpha))
    if ndim == 2:
        comps = [np.zeros(shape)] + [np.broadcast_to(f, shape) for f in comps]
    return np.stack(comps)


def warp_with_field_ref(volume, field, order):
    """scipy's map_coordinates (mode='nearest') at v + field[:, v]; order 0 rounds half up first."""
    coords = np.indices(volume.shape, dtype=np.float64) + field
    if order == 0:
        coords = np.floor(coords + 0.5)
    return ndimage.map_coordinates(volume, coords, order=order, mode="nearest")


def pytc_field_ref(shape, sigma, alpha, rng):
    """PyTorch Connectomics' 2D field: gaussian_filter(uniform(-1, 1), sigma, mode='constant') * alpha."""
    return np.stack(
        [ndimage.gaussian_filter(rng.uniform(-1, 1, shape), sigma, mode="constant") * alpha for _ in range(2)]
    )
