"""Numba resampling kernels shared by the geometric augmentations.

Coordinates outside the source are clamped to its border (scipy's mode='nearest'), so resampled labels
only ever take ids present in the source. Order 0 rounds half up (floor(c + 0.5)); order 1 is
(bi)linear. Kernels are compiled on first use and cached on disk (numba `cache=True`).
"""

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _clamp(i, n):
    return min(max(i, 0), n - 1)


@numba.njit(cache=True, parallel=True)
def affine_slices(src, out, matrices, order):
    """out[z, y, x] = src[z] sampled at (sy, sx) = matrices[z] @ (y, x, 1), for each z (in parallel).

    src: (Z, H, W); out: (Z, H2, W2) of the same dtype; matrices: (Z, 2, 3) float64 mapping output
    (y, x) to source (y, x); order: 0 (nearest) or 1 (bilinear).
    """
    _n_z, h, w = src.shape
    for z in numba.prange(out.shape[0]):
        m = matrices[z]
        for y in range(out.shape[1]):
            for x in range(out.shape[2]):
                sy = m[0, 0] * y + m[0, 1] * x + m[0, 2]
                sx = m[1, 0] * y + m[1, 1] * x + m[1, 2]
                if order == 0:
                    out[z, y, x] = src[z, _clamp(int(np.floor(sy + 0.5)), h), _clamp(int(np.floor(sx + 0.5)), w)]
                else:
                    y0 = int(np.floor(sy))
                    x0 = int(np.floor(sx))
                    fy = sy - y0
                    fx = sx - x0
                    ya, yb = _clamp(y0, h), _clamp(y0 + 1, h)
                    xa, xb = _clamp(x0, w), _clamp(x0 + 1, w)
                    top = src[z, ya, xa] * (1 - fx) + src[z, ya, xb] * fx
                    bottom = src[z, yb, xa] * (1 - fx) + src[z, yb, xb] * fx
                    out[z, y, x] = top * (1 - fy) + bottom * fy


def rotation_matrix(angle, center_out, center_src, scale=1.0):
    """(2, 3) matrix mapping output (y, x) to source (y, x): rotation by `angle` radians (counter-clockwise
    in the displayed image) and zoom by `scale` about the given centers."""
    c, s = np.cos(angle) / scale, np.sin(angle) / scale
    rot = np.array([[c, s], [-s, c]])
    shift = np.asarray(center_src, float) - rot @ np.asarray(center_out, float)
    return np.hstack([rot, shift[:, None]])


def warp_slices(volume, matrices, order, out_shape=None):
    """Applies one (2, 3) matrix per z-slice (or one (2, 3) matrix to all) to a (Z, Y, X) volume.

    Images are interpolated in float32 and cast back (uint8 rounded and clipped); labels use order 0.
    """
    z = volume.shape[0]
    out_shape = tuple(out_shape or volume.shape)
    matrices = np.broadcast_to(np.asarray(matrices, np.float64), (z, 2, 3)).copy()
    if order == 0:
        src = np.ascontiguousarray(volume)
        if src.dtype == bool:
            src = src.view(np.uint8)
        out = np.empty(out_shape, src.dtype)
        affine_slices(src, out, matrices, 0)
        return out.view(bool) if volume.dtype == bool else out
    src = np.ascontiguousarray(volume, dtype=np.float32)
    out = np.empty(out_shape, np.float32)
    affine_slices(src, out, matrices, 1)
    return cast_like(out, volume.dtype)


def cast_like(image, dtype):
    """A float32 image back to `dtype` (uint8: rounded and clipped to [0, 255])."""
    if dtype == np.uint8:
        return np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return image.astype(dtype, copy=False)
