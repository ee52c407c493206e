"""Numba kernels for elastic deformation: the displacement field fused with the resampling.

The field (PyTorch Connectomics' Elastic: white noise in [-1, 1], gaussian-smoothed with `sigma`, times
`alpha`) is not built at full resolution. Uniform noise is drawn on a coarse control grid of spacing
``s = max(sigma, 1)``, smoothed there with a gaussian of ``sqrt(sigma**2 - s**2 / 3) / s`` grid units, and
evaluated inside the resampling loop as a cubic B-spline of those coefficients. A cubic B-spline is
(close to) a gaussian of variance ``s**2 / 3``, so the total smoothing kernel is close to a gaussian of
std `sigma`, and sampling white noise every `s` voxels instead of every voxel keeps the covariance
shape (sum over control points ~ integral). The coefficients are scaled so that the field's std
(averaged over positions between control points) equals that of PyTorch Connectomics' field
(``alpha * sqrt(1/3) * prod_axes sqrt(sum(g_sigma**2))``, g the discrete scipy gaussian); the field is
clipped to [-alpha, alpha] (PyTorch Connectomics' bound). As the noise is in [-1, 1] and the gaussian and
B-spline weights are positive with sum 1, |field| <= the coefficients' scale (4.0 voxels for the defaults
alpha=16, sigma=4 in 2D; the field's std is 0.65 voxels, as PyTorch Connectomics'): `Elastic.input_shape`
adds that bound + 1 on each side, so the centered output crop never samples outside the input.

Resampling: coordinates outside the source are clamped (scipy's mode='nearest'); order 0 rounds half up
(floor(c + 0.5)), order 1 is (tri/bi)linear, as in `pytc.augment._warp`. Kernels are cached on disk
(numba ``cache=True``), so a fresh process (e.g. a DataLoader worker) loads them instead of compiling.
Measured (2-core machine, `python -c` doing the imports and one Elastic call on an 18x172x172 float32
image + uint32 label): 9.4 s with an empty cache (NUMBA_CACHE_DIR set to a new folder), 1.5-1.8 s with
the cache filled, of which ~1.5-2 s are the imports (numpy, scipy, numba, pytc) alone: loading the cached
kernels costs well under a second. Where the package folder is read-only, set NUMBA_CACHE_DIR to a
writable folder shared by the workers so the first run fills it once.
"""

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _clamp(i, n):
    return min(max(i, 0), n - 1)


@numba.njit(cache=True, inline="always")
def _bspline(u):
    """First control point index and the 4 cubic B-spline weights at grid coordinate u (>= 1)."""
    i = int(np.floor(u))
    t = u - i
    t2 = t * t
    t3 = t2 * t
    return i - 1, (1 - t) ** 3 / 6, (3 * t3 - 6 * t2 + 4) / 6, (-3 * t3 + 3 * t2 + 3 * t + 1) / 6, t3 / 6


@numba.njit(cache=True, inline="always")
def _clip(v, a):
    return min(max(v, -a), a)


@numba.njit(cache=True, parallel=True)
def elastic_2d(src, out, coef, spacing, alpha, order):
    """out[z, y, x] = src[z] sampled at (y + dy, x + dx), (dy, dx) one 2D field for all z.

    src, out: (Z, Y, X) of one dtype; coef: (2, Gy, Gx) float64 B-spline coefficients of (dy, dx) on a
    grid of `spacing` voxels whose point j sits at (j - 1) * spacing; order 0 or 1.
    """
    n_z, h, w = src.shape
    gx = coef.shape[2]
    inv = 1.0 / spacing
    for y in numba.prange(h):
        j0, a0, a1, a2, a3 = _bspline(y * inv + 1.0)
        row = np.empty((2, gx))
        for c in range(2):
            for g in range(gx):
                row[c, g] = (
                    a0 * coef[c, j0, g] + a1 * coef[c, j0 + 1, g] + a2 * coef[c, j0 + 2, g] + a3 * coef[c, j0 + 3, g]
                )
        ya = np.empty(w, np.int64)
        yb = np.empty(w, np.int64)
        xa = np.empty(w, np.int64)
        xb = np.empty(w, np.int64)
        fy = np.empty(w, np.float32)
        fx = np.empty(w, np.float32)
        for x in range(w):
            i0, b0, b1, b2, b3 = _bspline(x * inv + 1.0)
            dy = b0 * row[0, i0] + b1 * row[0, i0 + 1] + b2 * row[0, i0 + 2] + b3 * row[0, i0 + 3]
            dx = b0 * row[1, i0] + b1 * row[1, i0 + 1] + b2 * row[1, i0 + 2] + b3 * row[1, i0 + 3]
            sy = y + _clip(dy, alpha)
            sx = x + _clip(dx, alpha)
            if order == 0:
                ya[x] = _clamp(int(np.floor(sy + 0.5)), h)
                xa[x] = _clamp(int(np.floor(sx + 0.5)), w)
            else:
                y0 = int(np.floor(sy))
                x0 = int(np.floor(sx))
                fy[x] = sy - y0
                fx[x] = sx - x0
                ya[x], yb[x] = _clamp(y0, h), _clamp(y0 + 1, h)
                xa[x], xb[x] = _clamp(x0, w), _clamp(x0 + 1, w)
        for z in range(n_z):
            s = src[z]
            if order == 0:
                for x in range(w):
                    out[z, y, x] = s[ya[x], xa[x]]
            else:
                for x in range(w):
                    top = s[ya[x], xa[x]] * (1 - fx[x]) + s[ya[x], xb[x]] * fx[x]
                    bottom = s[yb[x], xa[x]] * (1 - fx[x]) + s[yb[x], xb[x]] * fx[x]
                    out[z, y, x] = top * (1 - fy[x]) + bottom * fy[x]


@numba.njit(cache=True, inline="always")
def _sample(src, sz, sy, sx, order):
    n_z, h, w = src.shape
    if order == 0:
        return src[
            _clamp(int(np.floor(sz + 0.5)), n_z), _clamp(int(np.floor(sy + 0.5)), h), _clamp(int(np.floor(sx + 0.5)), w)
        ]
    z0 = int(np.floor(sz))
    y0 = int(np.floor(sy))
    x0 = int(np.floor(sx))
    fz = np.float32(sz - z0)
    fy = np.float32(sy - y0)
    fx = np.float32(sx - x0)
    za, zb = _clamp(z0, n_z), _clamp(z0 + 1, n_z)
    ya, yb = _clamp(y0, h), _clamp(y0 + 1, h)
    xa, xb = _clamp(x0, w), _clamp(x0 + 1, w)
    c00 = src[za, ya, xa] * (1 - fx) + src[za, ya, xb] * fx
    c01 = src[za, yb, xa] * (1 - fx) + src[za, yb, xb] * fx
    c10 = src[zb, ya, xa] * (1 - fx) + src[zb, ya, xb] * fx
    c11 = src[zb, yb, xa] * (1 - fx) + src[zb, yb, xb] * fx
    return (c00 * (1 - fy) + c01 * fy) * (1 - fz) + (c10 * (1 - fy) + c11 * fy) * fz


@numba.njit(cache=True, parallel=True)
def elastic_3d(src, out, coef, spacing, alpha, order):
    """out[v] = src sampled at v + d(v), d a 3D field: coef (3, Gz, Gy, Gx) B-spline coefficients of
    (dz, dy, dx) on a grid of `spacing` voxels (point j at (j - 1) * spacing); order 0 or 1."""
    n_z, h, w = src.shape
    gy, gx = coef.shape[2], coef.shape[3]
    inv = 1.0 / spacing
    for z in numba.prange(n_z):
        k0, c0, c1, c2, c3 = _bspline(z * inv + 1.0)
        slab = np.empty((3, gy, gx))
        for c in range(3):
            for g in range(gy):
                for f in range(gx):
                    slab[c, g, f] = (
                        c0 * coef[c, k0, g, f]
                        + c1 * coef[c, k0 + 1, g, f]
                        + c2 * coef[c, k0 + 2, g, f]
                        + c3 * coef[c, k0 + 3, g, f]
                    )
        row = np.empty((3, gx))
        for y in range(h):
            j0, a0, a1, a2, a3 = _bspline(y * inv + 1.0)
            for c in range(3):
                for f in range(gx):
                    row[c, f] = (
                        a0 * slab[c, j0, f]
                        + a1 * slab[c, j0 + 1, f]
                        + a2 * slab[c, j0 + 2, f]
                        + a3 * slab[c, j0 + 3, f]
                    )
            for x in range(w):
                i0, b0, b1, b2, b3 = _bspline(x * inv + 1.0)
                dz = b0 * row[0, i0] + b1 * row[0, i0 + 1] + b2 * row[0, i0 + 2] + b3 * row[0, i0 + 3]
                dy = b0 * row[1, i0] + b1 * row[1, i0 + 1] + b2 * row[1, i0 + 2] + b3 * row[1, i0 + 3]
                dx = b0 * row[2, i0] + b1 * row[2, i0 + 1] + b2 * row[2, i0 + 2] + b3 * row[2, i0 + 3]
                out[z, y, x] = _sample(src, z + _clip(dz, alpha), y + _clip(dy, alpha), x + _clip(dx, alpha), order)


@numba.njit(cache=True, parallel=True)
def _warp_with_field(src, out, field, order):
    n_z, h, w = src.shape
    for z in numba.prange(n_z):
        for y in range(h):
            for x in range(w):
                out[z, y, x] = _sample(src, z + field[0, z, y, x], y + field[1, z, y, x], x + field[2, z, y, x], order)


def warp_with_field(volume, field, order):
    """Resamples a (Z, Y, X) volume at v + field[:, v] (a full-resolution (3, Z, Y, X) displacement, in
    voxels, (dz, dy, dx)); order 0 (nearest, any dtype) or 1 (trilinear, computed in float32, result float32).
    Coordinates outside are clamped (scipy's mode='nearest')."""
    if order not in (0, 1):
        raise ValueError(f"warp_with_field: `order` must be 0 or 1; got {order!r}")
    field = np.ascontiguousarray(field)
    if field.shape != (3,) + volume.shape:
        raise ValueError(f"warp_with_field: `field` must have shape {(3,) + volume.shape}; got {field.shape}")
    if order == 0:
        src = np.ascontiguousarray(volume)
        src = src.view(np.uint8) if src.dtype == bool else src
    else:
        src = np.ascontiguousarray(volume, dtype=np.float32)
    out = np.empty(src.shape, src.dtype)
    _warp_with_field(src, out, field, order)
    return out.view(bool) if volume.dtype == bool and order == 0 else out


def _gauss_kernel(sigma, truncate=4.0):
    """scipy.ndimage's discrete 1D gaussian (radius int(truncate * sigma + 0.5))."""
    r = int(truncate * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2) if sigma > 0 else np.ones(1)
    return k / k.sum()


def coarse_sigma(sigma, spacing):
    """The gaussian (in grid units) applied to the coarse noise so that it and the B-spline make ~sigma."""
    return np.sqrt(max(sigma**2 - spacing**2 / 3.0, 0.0)) / spacing


def std_ratio_1d(sigma, spacing):
    """Per-axis factor making the B-spline field's variance (averaged over positions) that of noise
    smoothed by a gaussian `sigma` at full resolution."""
    target = np.sum(_gauss_kernel(sigma) ** 2)
    h = _gauss_kernel(coarse_sigma(sigma, spacing))
    var = []
    for t in (np.arange(32) + 0.5) / 32:
        b = np.array([(1 - t) ** 3, 3 * t**3 - 6 * t**2 + 4, -3 * t**3 + 3 * t**2 + 3 * t + 1, t**3]) / 6
        var.append(np.sum(np.convolve(b, h) ** 2))
    return np.sqrt(target / np.mean(var))


def grid_shape(n, spacing):
    """Control points along an axis of n voxels (point j at (j - 1) * spacing, 4 taps per position)."""
    return int(np.floor((n - 1) / spacing)) + 4


def coarse_field(shape, ndim, sigma, alpha, rng):
    """(ndim, *grid) float64 B-spline coefficients of a random field over the last `ndim` axes of `shape`."""
    from scipy import ndimage

    spacing = max(float(sigma), 1.0)
    grid = tuple(grid_shape(n, spacing) for n in shape[-ndim:])
    noise = rng.uniform(-1.0, 1.0, size=(ndim,) + grid)
    sc = coarse_sigma(sigma, spacing)
    scale = alpha * std_ratio_1d(sigma, spacing) ** ndim
    coef = np.empty_like(noise)
    for c in range(ndim):
        coef[c] = ndimage.gaussian_filter(noise[c], sc, mode="constant") * scale if sc > 0 else noise[c] * scale
    return coef, spacing
