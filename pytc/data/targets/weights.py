"""Loss weights for training targets (PyTorch Connectomics semantics)."""

import numpy as np
from scipy import ndimage

from ...kernels._offsets import as_offsets, overlap_slices
from ._common import _as3d, _labels


def affinity_mask(valid_mask: np.ndarray, offsets=None) -> np.ndarray:
    """Per-channel loss mask of affinities from a per-voxel valid mask: an edge counts only where both ends do.

    Channel c at voxel v is ``mask[v] * mask[v + offsets[c]]``: 0 on every edge between a labelled and an
    unlabelled voxel (its affinity would claim a boundary that the labels do not show). Where
    ``v + offsets[c]`` falls outside the array it is ``mask[v]``, as without a mask (the affinity target is 0
    there either way). An all-ones mask gives all ones.

    Parameters
    ----------
    valid_mask : ndarray, (Z, Y, X) or (Y, X); nonzero (or a weight) where labels can be trusted
    offsets : (C, ndim) ints, optional
        As `pytc.kernels.seg_to_affinity`, any sign and length; default the nearest neighbours.

    Returns
    -------
    float32 (C, *valid_mask.shape)

    Examples
    --------
    >>> affinity_mask(np.array([[0, 1, 1]]), [(0, -1)])  # the edge from x=1 back to x=0 leaves the labels
    array([[[0., 0., 1.]]], dtype=float32)
    """
    mask = np.asarray(valid_mask, dtype=np.float32)
    offsets = as_offsets(offsets, mask.ndim, "affinity_mask")
    out = np.empty((len(offsets),) + mask.shape, np.float32)
    for c, offset in enumerate(offsets):
        out[c] = mask
        here, there = overlap_slices(offset, mask.shape)
        out[c][here] *= mask[there]
    return out


def weight_binary_ratio(target: np.ndarray, mask: np.ndarray | None = None, alpha: float = 1.0) -> np.ndarray:
    """Class-balancing weight for a binary target (PyTC ``weight_binary_ratio``).

    With f the foreground fraction (within `mask`), clipped to [0.05, 0.99]: the rarer class
    gets weight ``alpha * (1 - f) / f`` (foreground rare) or ``alpha * f / (1 - f)`` (background
    rare), the other 1; then multiplied by `mask`. A constant target gives weight 1 everywhere.
    """
    target = np.asarray(target)
    if target.size == 0 or target.max() == target.min():
        w = np.ones(target.shape, np.float32)
        return w if mask is None else (w * mask).astype(np.float32)
    fg = target != 0
    if mask is None:
        f = np.count_nonzero(fg) / fg.size
    else:
        m = np.broadcast_to(np.asarray(mask, np.float32), fg.shape)
        total = float(m.sum(dtype=np.float64))
        f = float(m[fg].sum(dtype=np.float64)) / total if total > 0 else np.count_nonzero(fg) / fg.size
    f = float(np.clip(f, 0.05, 0.99))
    if f > 0.5:
        w = np.where(fg, np.float32(1), np.float32(alpha * f / (1 - f)))
    else:
        w = np.where(fg, np.float32(alpha * (1 - f) / f), np.float32(1))
    if mask is not None:
        w = w * m
    return w.astype(np.float32)


def _unet_slice(seg, w0, sigma):
    import edt

    ids = np.unique(seg)
    ids = ids[ids > 0]
    big = float(seg.shape[0] + seg.shape[1])
    d1 = np.full(seg.shape, big)
    d2 = np.full(seg.shape, big)
    cross = ndimage.generate_binary_structure(2, 1)
    for i in ids:
        m = seg == i
        inner = m & ~ndimage.binary_erosion(m, cross, border_value=1)
        if not inner.any():
            continue
        d = edt.edt(np.ascontiguousarray(~inner, dtype=np.uint8), black_border=False).astype(np.float64)
        d2 = np.minimum(d2, np.maximum(d1, d))
        d1 = np.minimum(d1, d)
    s = d1 if len(ids) == 1 else d1 + d2
    w = w0 * np.exp(-(s**2) / (2.0 * sigma**2))
    bg = (seg == 0).mean()
    w += np.where(seg > 0, bg, 1.0 - bg)
    return w


def weight_unet(label: np.ndarray, w0: float = 10.0, sigma: float = 5.0) -> np.ndarray:
    """U-Net border weight (Ronneberger et al. 2015; PyTC ``weight_unet3d``), per Z slice.

    ``w = w_c + w0 * exp(-(d1 + d2)^2 / (2 sigma^2))``, d1, d2 the distances to the inner
    boundaries of the nearest and second-nearest instance (d1 alone when the slice has a single
    instance); w_c = background fraction on foreground, foreground fraction on background.
    Slices without foreground get 0 (as in PyTC). Returns (Z, Y, X) (or (Y, X)) float32.
    """
    label = _labels(label, "weight_unet")
    lab, was_2d = _as3d(label)
    out = np.zeros(lab.shape, np.float32)
    for z in range(lab.shape[0]):
        if (lab[z] > 0).any():
            out[z] = _unet_slice(lab[z], w0, sigma)
    return out[0] if was_2d else out
