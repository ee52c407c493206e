"""scipy references for the EM-defect kernels."""

import numpy as np
from scipy import ndimage


def box_blur_axis_ref(section, size, axis):
    """Mean over `size` neighbours along `axis` of a 2D section, mirror (reflect-101) borders."""
    weights = np.full(size, 1.0 / size)
    # scipy centres even boxes at size // 2, as the kernel does
    out = ndimage.correlate1d(section.astype(np.float64), weights, axis=axis, mode="mirror")
    return out.astype(np.float32)


def missing_part_ref(section, r0, c0, r1, c1, iterations, strength):
    """scipy version of pytc.augment._defects.missing_part: the same line, map_coordinates (order 1,
    mode='nearest') for the shift towards the line, and `iterations` binary dilations for the band."""
    h, w = section.shape
    n = max(abs(r1 - r0), abs(c1 - c0))
    t = np.arange(n + 1) / n if n else np.zeros(1)
    rows = np.floor(r0 + (r1 - r0) * t + 0.5).astype(int)
    cols = np.floor(c0 + (c1 - c0) * t + 0.5).astype(int)
    line = np.zeros((h, w), bool)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    line[rows[inside], cols[inside]] = True
    dr, dc = float(r1 - r0), float(c1 - c0)
    norm = max(np.hypot(dr, dc), 1e-12)
    nr, nc = -dc / norm, dr / norm
    rr, cc = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    shift = strength * np.sign((rr - r0) * nr + (cc - c0) * nc)
    coords = np.stack([np.clip(rr + shift * nr, 0, h - 1), np.clip(cc + shift * nc, 0, w - 1)])
    out = ndimage.map_coordinates(section.astype(np.float64), coords, order=1, mode="nearest")
    band = ndimage.binary_dilation(line, iterations=iterations) if iterations else line
    out[band] = section.mean()
    return out
