"""Numba kernels for the EM-defect augmentations."""

import numba
import numpy as np


@numba.njit(cache=True, parallel=True)
def box_blur_axis(section, size, axis):
    """Mean over `size` neighbours along `axis` (0: y, 1: x) of a 2D float32 section, mirror borders
    (d c b | a b c d | c b a, OpenCV's BORDER_REFLECT_101)."""
    ny, nx = section.shape
    out = np.empty_like(section)
    half = size // 2
    inv = np.float32(1.0 / size)
    for y in numba.prange(ny):
        for x in range(nx):
            acc = np.float32(0.0)
            for k in range(-half, size - half):
                if axis == 0:
                    i = y + k
                    n = ny
                else:
                    i = x + k
                    n = nx
                if n == 1:
                    i = 0
                else:
                    period = 2 * (n - 1)
                    i = abs(i) % period
                    if i >= n:
                        i = period - i
                if axis == 0:
                    acc += section[i, x]
                else:
                    acc += section[y, i]
            out[y, x] = acc * inv
    return out
