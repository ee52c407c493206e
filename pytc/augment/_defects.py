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


@numba.njit(cache=True)
def line_pixels(r0, c0, r1, c1):
    """The 8-connected pixels of the segment (r0, c0)-(r1, c1): steps along the longer axis, the other
    coordinate rounded half up."""
    n = max(abs(r1 - r0), abs(c1 - c0))
    out = np.empty((n + 1, 2), np.int64)
    for t in range(n + 1):
        f = t / n if n else 0.0
        out[t, 0] = int(np.floor(r0 + (r1 - r0) * f + 0.5))
        out[t, 1] = int(np.floor(c0 + (c1 - c0) * f + 0.5))
    return out


@numba.njit(cache=True)
def missing_part(section, r0, c0, r1, c1, iterations, strength):
    """One section with a missing band along the line (r0, c0)-(r1, c1): the two sides shifted towards the
    line by `strength` (bilinear, clamped at the border), then pixels within L1 distance `iterations` of the
    line set to the section's mean. Returns a new float32 array."""
    h, w = section.shape
    mean = section.mean()
    out = np.empty((h, w), np.float32)
    # unit normal of the line; each side moves towards it
    dr, dc = float(r1 - r0), float(c1 - c0)
    norm = max(np.sqrt(dr * dr + dc * dc), 1e-12)
    nr, nc = -dc / norm, dr / norm
    for r in range(h):
        for c in range(w):
            side = (r - r0) * nr + (c - c0) * nc
            s = strength if side > 0 else (-strength if side < 0 else 0.0)
            sr = min(max(r + s * nr, 0.0), h - 1.0)
            sc = min(max(c + s * nc, 0.0), w - 1.0)
            ra, ca = int(np.floor(sr)), int(np.floor(sc))
            rb, cb = min(ra + 1, h - 1), min(ca + 1, w - 1)
            fr, fc = sr - ra, sc - ca
            top = section[ra, ca] * (1 - fc) + section[ra, cb] * fc
            bottom = section[rb, ca] * (1 - fc) + section[rb, cb] * fc
            out[r, c] = top * (1 - fr) + bottom * fr
    # L1 distance to the line by two chamfer passes: the same set as `iterations` binary dilations (cross)
    big = h + w + 1
    dist = np.full((h, w), big, np.int64)
    pixels = line_pixels(r0, c0, r1, c1)
    for k in range(pixels.shape[0]):
        if 0 <= pixels[k, 0] < h and 0 <= pixels[k, 1] < w:
            dist[pixels[k, 0], pixels[k, 1]] = 0
    for r in range(h):
        for c in range(w):
            if r > 0:
                dist[r, c] = min(dist[r, c], dist[r - 1, c] + 1)
            if c > 0:
                dist[r, c] = min(dist[r, c], dist[r, c - 1] + 1)
    for r in range(h - 1, -1, -1):
        for c in range(w - 1, -1, -1):
            if r < h - 1:
                dist[r, c] = min(dist[r, c], dist[r + 1, c] + 1)
            if c < w - 1:
                dist[r, c] = min(dist[r, c], dist[r, c + 1] + 1)
            if dist[r, c] <= iterations:
                out[r, c] = mean
    return out
