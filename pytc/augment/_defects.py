"""Numba kernels for the EM-defect augmentations."""

import numba
import numpy as np


@numba.njit(cache=True)
def _mirror(i, n):
    """Index i folded into [0, n) with mirror borders (d c b | a b c d | c b a, OpenCV's BORDER_REFLECT_101)."""
    if n == 1:
        return 0
    period = 2 * (n - 1)
    i = abs(i) % period
    return period - i if i >= n else i


@numba.njit(cache=True)
def box_blur_axis(section, size, axis):
    """Mean over `size` neighbours (offsets -size//2 .. size-1-size//2) along `axis` (0: y, 1: x) of a 2D
    float32 section, mirror borders; a running sum (float64) per line, so the cost does not grow with size."""
    ny, nx = section.shape
    out = np.empty_like(section)
    half = size // 2
    n_lines = nx if axis == 0 else ny
    n = ny if axis == 0 else nx
    line = np.empty(n + size - 1, np.float64)
    inv = 1.0 / size
    for j in range(n_lines):
        for k in range(n + size - 1):
            i = _mirror(k - half, n)
            line[k] = section[i, j] if axis == 0 else section[j, i]
        acc = 0.0
        for k in range(size):
            acc += line[k]
        for i in range(n):
            if axis == 0:
                out[i, j] = acc * inv
            else:
                out[j, i] = acc * inv
            if i + size < n + size - 1:
                acc += line[i + size] - line[i]
    return out
