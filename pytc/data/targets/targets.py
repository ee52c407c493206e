"""Training targets from label volumes (PyTorch Connectomics semantics), registered by name in `TARGETS`.

Every target function takes numpy labels, shape (Z, Y, X) or (Y, X), never modifies them, and returns float32
of shape (C, Z, Y, X) (or (C, Y, X) for 2D labels).
"""

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from ...registry import Registry
from ...validation import check_number, fail
from ._common import _as3d, _labels, _mode, _out, _resolution

# the targets a spec names (`build_targets`, config tasks): name -> function(label, **options)
TARGETS = Registry("target")

Resolution = float | Sequence[float]  # (z, y, x), or one value for all axes


@TARGETS.register("binary")
def binary_target(label: np.ndarray, foreground: Sequence[int] | None = None) -> np.ndarray:
    """Binary foreground mask, one channel.

    Parameters
    ----------
    label : ndarray, (Z, Y, X) or (Y, X), integer
    foreground : sequence of int, optional
        Ids counted as foreground; default every id > 0.

    Examples
    --------
    >>> binary_target(np.array([[0, 1], [2, 0]]))
    array([[[0., 1.],
            [1., 0.]]], dtype=float32)
    """
    label = _labels(label, "binary_target")
    mask = label > 0 if foreground is None else np.isin(label, np.asarray(foreground))
    return np.ascontiguousarray(mask[None], dtype=np.float32)


@TARGETS.register("affinity")
def affinity_target(
    label: np.ndarray, offsets: Sequence[Sequence[int]] | None = None, threads: int | None = 1
) -> np.ndarray:
    """Affinities (C, Z, Y, X): 1 where both ends are in the same nonzero object.

    Thin wrapper over :func:`pytc.kernels.seg_to_affinity`; default offsets are the nearest
    neighbours ``(-1,0,0), (0,-1,0), (0,0,-1)`` (``(-1,0), (0,-1)`` in 2D). One thread by
    default: targets are built in data-loader workers, which already run in parallel.
    """
    from pytc.kernels import seg_to_affinity

    label = _labels(label, "affinity_target")
    if label.dtype == bool:
        label = label.astype(np.uint8)
    return seg_to_affinity(label, offsets, threads=threads)


@TARGETS.register("boundary")
def boundary_target(
    label: np.ndarray, thickness: int = 1, background: bool = True, mode: str = "2d", convolve: bool = False
) -> np.ndarray:
    """Instance boundary mask (PyTC ``seg_to_instance_bd``), one channel.

    A voxel is boundary when the window of half-size `thickness` around it (``(2t+1)^2`` in each
    Z slice for mode '2d', ``(2t+1)^3`` for '3d'; the volume is mirrored at its faces, numpy
    'reflect') holds some nonzero id and more than one value. With ``background=False`` only
    contacts between two different nonzero ids count (PyTC's ``do_bg=False``).

    ``convolve=True`` (with `background`) gives PyTC's ``do_convolve=True`` variant instead: a
    voxel is a contour where its two neighbours along some axis (in-plane for '2d') differ
    (edge-repeating padding), then the contour is dilated by the same window (zero padding).
    Its boundaries are about one voxel wider on each side.
    """
    label = _labels(label, "boundary_target")
    mode = _mode(mode, "boundary_target")
    check_number(thickness, "boundary_target", "thickness", 0, integer=True)
    lab, was_2d = _as3d(label)
    k = 2 * int(thickness) + 1
    size = (1, k, k) if mode == "2d" else (k, k, k)
    if convolve and background:
        p = np.pad(lab, [(0, 0) if (mode == "2d" and a == 0) else (1, 1) for a in range(3)], mode="symmetric")
        contour = np.zeros(lab.shape, bool)
        for a in (1, 2) if mode == "2d" else (0, 1, 2):
            lo_sl = [slice(None) if (mode == "2d" and b == 0) else slice(1, -1) for b in range(3)]
            hi_sl = list(lo_sl)
            lo_sl[a], hi_sl[a] = slice(0, -2), slice(2, None)
            contour |= p[tuple(lo_sl)] != p[tuple(hi_sl)]
        return _out(ndimage.maximum_filter(contour, size=size, mode="constant", cval=0), was_2d)
    hi = ndimage.maximum_filter(lab, size=size, mode="mirror")
    if background:
        lo = ndimage.minimum_filter(lab, size=size, mode="mirror")
    else:  # zeros never count as the minimum
        big = np.iinfo(lab.dtype).max if lab.dtype.kind in "iu" else True
        lo = ndimage.minimum_filter(np.where(lab == 0, big, lab), size=size, mode="mirror")
    return _out((hi > 0) & (hi != lo), was_2d)


def _components(lab3, mode):
    import cc3d

    if mode == "3d":
        return cc3d.connected_components(lab3, connectivity=26)
    out = np.zeros(lab3.shape, np.uint32)
    top = 0
    for z in range(lab3.shape[0]):
        cc = cc3d.connected_components(np.ascontiguousarray(lab3[z]), connectivity=8)
        n = int(cc.max())
        out[z] = np.where(cc > 0, cc + top, 0)
        top += n
    return out


def _instance_energy(lab3, mode, resolution, split_components):
    """Per-instance EDT / instance max in (0, 1]; background -1."""
    import edt
    import fastremap

    if split_components:
        ids = _components(lab3, mode)
    else:
        ids = lab3
        if mode == "2d":  # distinct ids per slice so a slice's max normalises only its part
            ids = np.where(
                lab3 > 0,
                lab3.astype(np.uint64) * lab3.shape[0] + np.arange(lab3.shape[0], dtype=np.uint64)[:, None, None],
                0,
            )
    ids, _ = fastremap.renumber(np.ascontiguousarray(ids), in_place=False)
    ids = ids.astype(np.uint32)
    if mode == "3d":
        dist = edt.edt(ids, anisotropy=tuple(float(r) for r in resolution), black_border=False)
    else:
        an = tuple(float(r) for r in resolution[-2:])
        dist = (
            np.stack(
                [edt.edt(np.ascontiguousarray(ids[z]), anisotropy=an, black_border=False) for z in range(ids.shape[0])]
            )
            if ids.shape[0]
            else np.zeros(ids.shape, np.float32)
        )
    dist = dist.astype(np.float32)
    n = int(ids.max()) if ids.size else 0
    energy = np.full(ids.shape, -1.0, np.float32)
    if n == 0:
        return energy
    finite = np.where(np.isinf(dist), 0, dist)
    top = np.zeros(n + 1, np.float32)
    np.maximum.at(top, ids.ravel(), finite.ravel())
    fg = ids > 0
    denom = top[ids[fg]]
    val = np.where(np.isinf(dist[fg]), 1.0, dist[fg] / np.where(denom > 0, denom, 1.0))
    energy[fg] = np.minimum(val, 1.0)
    return energy


@TARGETS.register("instance_edt")
def instance_edt_target(
    label: np.ndarray,
    mode: str = "2d",
    resolution: Resolution = (1.0, 1.0, 1.0),
    split_components: bool = True,
    background: float = 0.0,
) -> np.ndarray:
    """Distance transform normalised per instance (PyTC ``edt_instance`` without quantisation).

    Each instance voxel gets its Euclidean distance to the nearest voxel outside the instance
    (volume faces are not boundaries), divided by the instance's largest distance, so values lie
    in (0, 1]. Mode '2d' works per Z slice, '3d' in 3D with `resolution` (z, y, x) as anisotropy.
    With `split_components` (PyTC's ``relabel``) each connected component (8/26-connected) of an
    id is an instance. Background voxels are set to `background`. Differences from PyTC: no
    ``remove_small_holes(16)`` on each instance; an instance with no outside voxel gets 1.
    """
    label = _labels(label, "instance_edt_target")
    mode = _mode(mode, "instance_edt_target")
    res = _resolution(resolution, "instance_edt_target")
    lab, was_2d = _as3d(label)
    e = _instance_energy(lab, mode, res, split_components)
    e[e < 0] = background
    return _out(e, was_2d)


def energy_quantize(energy: np.ndarray, levels: int = 10) -> np.ndarray:
    """PyTC's quantisation: -1 (background) -> 0, [i/levels, (i+1)/levels) -> i + 1, 1 -> levels."""
    bins = np.concatenate([[-1.0], np.arange(levels) / float(levels), [1.1]])
    return (np.digitize(energy, bins) - 1).astype(np.float32)


@TARGETS.register("quantized_edt")
def quantized_edt_target(
    label: np.ndarray,
    mode: str = "2d",
    resolution: Resolution = (1.0, 1.0, 1.0),
    split_components: bool = True,
    levels: int = 10,
) -> np.ndarray:
    """Quantised instance distance (PyTC ``edt_instance(quantize=True)``): one channel of class
    indices in 0..levels (11 classes by default), 0 = background, to train with cross-entropy.

    Bins as PyTC's ``energy_quantize``: energy e in [i/levels, (i+1)/levels) -> i + 1, 1 -> levels.
    PyTC's own code lets background drift to class 1 once a slice has an instance (its -1 fill is
    overwritten by ``np.maximum(distance, 0)``); here background is always class 0."""
    label = _labels(label, "quantized_edt_target")
    mode = _mode(mode, "quantized_edt_target")
    check_number(levels, "quantized_edt_target", "levels", 1, integer=True)
    lab, was_2d = _as3d(label)
    e = _instance_energy(lab, mode, _resolution(resolution, "quantized_edt_target"), split_components)
    return _out(energy_quantize(e, levels), was_2d)


@TARGETS.register("semantic_edt")
def semantic_edt_target(
    label: np.ndarray,
    mode: str = "2d",
    alpha_fore: float = 4.0,
    alpha_back: float = 50.0,
    resolution: Resolution = (6.0, 1.0, 1.0),
) -> np.ndarray:
    """tanh of the signed distance (PyTC ``edt_semantic``), one channel in (-1, 1).

    ``tanh(d_fore / alpha_fore - d_back / alpha_back)``, d_fore the distance of a foreground
    voxel (label != 0) to the background, d_back that of a background voxel to the foreground.
    Mode '2d' per Z slice (unit pixels), '3d' with `resolution` (PyTC: (6, 1, 1)). A slice or
    volume without background (foreground) gives +1 (-1) there.
    """
    import edt

    label = _labels(label, "semantic_edt_target")
    mode = _mode(mode, "semantic_edt_target")
    for arg, value in (("alpha_fore", alpha_fore), ("alpha_back", alpha_back)):
        if not check_number(value, "semantic_edt_target", arg) > 0:
            raise fail("semantic_edt_target", arg, "> 0", repr(value))
    res = _resolution(resolution, "semantic_edt_target")
    lab, was_2d = _as3d(label)
    fore = np.ascontiguousarray(lab != 0, dtype=np.uint8)
    back = 1 - fore

    def dt(m):
        if mode == "3d":
            return edt.edt(m, anisotropy=res, black_border=False)
        return np.stack([edt.edt(m[z], black_border=False) for z in range(m.shape[0])])

    with np.errstate(invalid="ignore"):
        d = dt(fore).astype(np.float64) / alpha_fore - dt(back).astype(np.float64) / alpha_back
    return _out(np.tanh(d), was_2d)


@TARGETS.register("polarity")
def polarity_target(label: np.ndarray) -> np.ndarray:
    """Synaptic polarity, 3 channels (PyTC ``seg_to_polarity``): odd ids > 0 = pre-synaptic,
    even ids > 0 = post-synaptic, any id > 0 = synapse."""
    label = _labels(label, "polarity_target")
    fg = label > 0
    odd = (label % 2) == 1
    return np.ascontiguousarray(np.stack([fg & odd, fg & ~odd, fg]), dtype=np.float32)


@TARGETS.register("semantic")
def semantic_target(label: np.ndarray, num_classes: int | None = None, one_hot: bool = False) -> np.ndarray:
    """Multi-class semantic target.

    Default: one channel holding the class index of each voxel (for cross-entropy, like PyTC's
    '9' target). With ``one_hot=True``: `num_classes` channels, channel k = (label == k).
    Ids must lie in 0..num_classes-1 when `num_classes` is given.
    """
    label = _labels(label, "semantic_target")
    if label.size and label.min() < 0:
        raise fail("semantic_target", "label", "class ids >= 0", f"min {int(label.min())}")
    if num_classes is not None:
        check_number(num_classes, "semantic_target", "num_classes", 1, integer=True)
        if label.size and int(label.max()) >= num_classes:
            raise fail(
                "semantic_target", "label", f"class ids < num_classes={num_classes}", f"class id {int(label.max())}"
            )
    if not one_hot:
        return np.ascontiguousarray(label[None], dtype=np.float32)
    if num_classes is None:
        raise fail("semantic_target", "num_classes", "given with one_hot=True", "None")
    ks = np.arange(num_classes).reshape((-1,) + (1,) * label.ndim)
    return np.ascontiguousarray(label[None] == ks, dtype=np.float32)


@TARGETS.register("small_object")
def small_object_target(label: np.ndarray, threshold: int = 25, z_ratio: float = 2) -> np.ndarray:
    """Mask of small objects (PyTC ``seg_to_small_seg``), one channel, 3D labels.

    In every Z slice, 8-connected components of each id with fewer than `threshold` pixels are
    marked; likewise in every Y and X slice with ``threshold // z_ratio`` (z_ratio = z resolution
    over xy resolution).
    """
    import cc3d

    label = _labels(label, "small_object_target", allow_2d=False)
    check_number(threshold, "small_object_target", "threshold", 0)
    check_number(z_ratio, "small_object_target", "z_ratio", 1)
    lab = label.astype(np.uint64) if label.dtype.kind == "i" or label.dtype == bool else label
    mask = np.zeros(label.shape, bool)

    def mark(sl, thr):
        cc = cc3d.connected_components(np.ascontiguousarray(sl), connectivity=8)
        counts = np.bincount(cc.ravel())
        small = counts < thr
        small[0] = False
        return small[cc]

    for z in range(lab.shape[0]):
        mask[z] |= mark(lab[z], threshold)
    for y in range(lab.shape[1]):
        mask[:, y] |= mark(lab[:, y], threshold // z_ratio)
    for x in range(lab.shape[2]):
        mask[:, :, x] |= mark(lab[:, :, x], threshold // z_ratio)
    return np.ascontiguousarray(mask[None], dtype=np.float32)
