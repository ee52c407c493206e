"""Training targets and loss weights from label volumes (PyTorch Connectomics semantics).

Every target function takes numpy labels, shape (Z, Y, X) or (Y, X), never modifies them, and
returns float32 of shape (C, Z, Y, X) (or (C, Y, X) for 2D labels). :func:`build_targets` stacks
several targets by name into one multitask array, with a weight array and the channel range of
each task.
"""

import numpy as np
from scipy import ndimage

__all__ = [
    "binary_target", "affinity_target", "boundary_target", "instance_edt_target",
    "quantized_edt_target", "semantic_edt_target", "polarity_target", "semantic_target",
    "small_object_target", "energy_quantize", "weight_binary_ratio", "weight_unet",
    "build_targets", "target_channels", "TARGETS", "DEFAULT_ACTIVATIONS",
]


def _labels(label, fn, allow_2d=True):
    label = np.asarray(label)
    if label.ndim not in ((2, 3) if allow_2d else (3,)):
        raise ValueError(f"{fn}: label must be 3D (Z, Y, X){' or 2D (Y, X)' if allow_2d else ''}, "
                         f"got shape {label.shape}")
    if label.dtype.kind not in "iub":
        raise ValueError(f"{fn}: label must be integer or bool, got dtype {label.dtype}")
    return label


def _as3d(label):
    """(label as 3D, is_2d)."""
    return (label[None], True) if label.ndim == 2 else (label, False)


def _out(t, was_2d):
    """Add the channel axis, drop the fake Z axis of 2D inputs, cast to float32."""
    t = np.asarray(t, dtype=np.float32)
    if t.ndim == 3:
        t = t[None]
    return np.ascontiguousarray(t[:, 0] if was_2d else t)


def _mode(mode, fn):
    if mode not in ("2d", "3d"):
        raise ValueError(f"{fn}: mode must be '2d' or '3d', got {mode!r}")
    return mode


def binary_target(label, foreground=None):
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


def affinity_target(label, offsets=None, threads=1):
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


def boundary_target(label, thickness=1, background=True, mode="2d", convolve=False):
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
    if not isinstance(thickness, (int, np.integer)) or thickness < 0:
        raise ValueError(f"boundary_target: thickness must be an int >= 0, got {thickness!r}")
    lab, was_2d = _as3d(label)
    k = 2 * int(thickness) + 1
    size = (1, k, k) if mode == "2d" else (k, k, k)
    if convolve and background:
        p = np.pad(lab, [(0, 0) if (mode == "2d" and a == 0) else (1, 1) for a in range(3)], mode="symmetric")
        contour = np.zeros(lab.shape, bool)
        for a in ((1, 2) if mode == "2d" else (0, 1, 2)):
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
            ids = np.where(lab3 > 0, lab3.astype(np.uint64) * lab3.shape[0]
                           + np.arange(lab3.shape[0], dtype=np.uint64)[:, None, None], 0)
    ids, _ = fastremap.renumber(np.ascontiguousarray(ids), in_place=False)
    ids = ids.astype(np.uint32)
    if mode == "3d":
        dist = edt.edt(ids, anisotropy=tuple(float(r) for r in resolution), black_border=False)
    else:
        an = tuple(float(r) for r in resolution[-2:])
        dist = np.stack([edt.edt(np.ascontiguousarray(ids[z]), anisotropy=an, black_border=False)
                         for z in range(ids.shape[0])]) if ids.shape[0] else np.zeros(ids.shape, np.float32)
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


def _resolution(resolution, fn):
    r = tuple(float(v) for v in np.broadcast_to(np.asarray(resolution, float), (3,)))
    if any(not v > 0 for v in r):
        raise ValueError(f"{fn}: resolution must be positive, got {resolution!r}")
    return r


def instance_edt_target(label, mode="2d", resolution=(1.0, 1.0, 1.0), split_components=True,
                        background=0.0):
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


def energy_quantize(energy, levels=10):
    """PyTC's quantisation: -1 (background) -> 0, [i/levels, (i+1)/levels) -> i + 1, 1 -> levels."""
    bins = np.concatenate([[-1.0], np.arange(levels) / float(levels), [1.1]])
    return (np.digitize(energy, bins) - 1).astype(np.float32)


def quantized_edt_target(label, mode="2d", resolution=(1.0, 1.0, 1.0), split_components=True,
                         levels=10):
    """Quantised instance distance (PyTC ``edt_instance(quantize=True)``): one channel of class
    indices in 0..levels (11 classes by default), 0 = background, to train with cross-entropy.

    Bins as PyTC's ``energy_quantize``: energy e in [i/levels, (i+1)/levels) -> i + 1, 1 -> levels.
    PyTC's own code lets background drift to class 1 once a slice has an instance (its -1 fill is
    overwritten by ``np.maximum(distance, 0)``); here background is always class 0."""
    label = _labels(label, "quantized_edt_target")
    mode = _mode(mode, "quantized_edt_target")
    if not isinstance(levels, (int, np.integer)) or levels < 1:
        raise ValueError(f"quantized_edt_target: levels must be an int >= 1, got {levels!r}")
    lab, was_2d = _as3d(label)
    e = _instance_energy(lab, mode, _resolution(resolution, "quantized_edt_target"), split_components)
    return _out(energy_quantize(e, levels), was_2d)


def semantic_edt_target(label, mode="2d", alpha_fore=4.0, alpha_back=50.0, resolution=(6.0, 1.0, 1.0)):
    """tanh of the signed distance (PyTC ``edt_semantic``), one channel in (-1, 1).

    ``tanh(d_fore / alpha_fore - d_back / alpha_back)``, d_fore the distance of a foreground
    voxel (label != 0) to the background, d_back that of a background voxel to the foreground.
    Mode '2d' per Z slice (unit pixels), '3d' with `resolution` (PyTC: (6, 1, 1)). A slice or
    volume without background (foreground) gives +1 (-1) there.
    """
    import edt

    label = _labels(label, "semantic_edt_target")
    mode = _mode(mode, "semantic_edt_target")
    if not (alpha_fore > 0 and alpha_back > 0):
        raise ValueError(f"semantic_edt_target: alpha_fore and alpha_back must be > 0, "
                         f"got {alpha_fore!r}, {alpha_back!r}")
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


def polarity_target(label):
    """Synaptic polarity, 3 channels (PyTC ``seg_to_polarity``): odd ids > 0 = pre-synaptic,
    even ids > 0 = post-synaptic, any id > 0 = synapse."""
    label = _labels(label, "polarity_target")
    fg = label > 0
    odd = (label % 2) == 1
    return np.ascontiguousarray(np.stack([fg & odd, fg & ~odd, fg]), dtype=np.float32)


def semantic_target(label, num_classes=None, one_hot=False):
    """Multi-class semantic target.

    Default: one channel holding the class index of each voxel (for cross-entropy, like PyTC's
    '9' target). With ``one_hot=True``: `num_classes` channels, channel k = (label == k).
    Ids must lie in 0..num_classes-1 when `num_classes` is given.
    """
    label = _labels(label, "semantic_target")
    if label.size and label.min() < 0:
        raise ValueError("semantic_target: label has negative class ids")
    if num_classes is not None:
        if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"semantic_target: num_classes must be an int >= 1, got {num_classes!r}")
        if label.size and int(label.max()) >= num_classes:
            raise ValueError(f"semantic_target: label has class id {int(label.max())} >= "
                             f"num_classes={num_classes}")
    if not one_hot:
        return np.ascontiguousarray(label[None], dtype=np.float32)
    if num_classes is None:
        raise ValueError("semantic_target: one_hot=True needs num_classes")
    ks = np.arange(num_classes).reshape((-1,) + (1,) * label.ndim)
    return np.ascontiguousarray(label[None] == ks, dtype=np.float32)


def small_object_target(label, threshold=25, z_ratio=2):
    """Mask of small objects (PyTC ``seg_to_small_seg``), one channel, 3D labels.

    In every Z slice, 8-connected components of each id with fewer than `threshold` pixels are
    marked; likewise in every Y and X slice with ``threshold // z_ratio`` (z_ratio = z resolution
    over xy resolution).
    """
    import cc3d

    label = _labels(label, "small_object_target", allow_2d=False)
    if threshold < 0 or z_ratio < 1:
        raise ValueError(f"small_object_target: threshold must be >= 0 and z_ratio >= 1, "
                         f"got {threshold!r}, {z_ratio!r}")
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


# --------------------------------------------------------------------------- weights

def weight_binary_ratio(target, mask=None, alpha=1.0):
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
    w = w0 * np.exp(-(s ** 2) / (2.0 * sigma ** 2))
    bg = (seg == 0).mean()
    w += np.where(seg > 0, bg, 1.0 - bg)
    return w


def weight_unet(label, w0=10.0, sigma=5.0):
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


# --------------------------------------------------------------------------- registry

TARGETS = {
    "binary": binary_target,
    "affinity": affinity_target,
    "boundary": boundary_target,
    "instance_edt": instance_edt_target,
    "quantized_edt": quantized_edt_target,
    "semantic_edt": semantic_edt_target,
    "polarity": polarity_target,
    "semantic": semantic_target,
    "small_object": small_object_target,
}

# the activation a network's output for each target usually gets at inference
DEFAULT_ACTIVATIONS = {
    "binary": "sigmoid", "affinity": "sigmoid", "boundary": "sigmoid", "instance_edt": "sigmoid",
    "quantized_edt": "softmax", "semantic_edt": "tanh", "polarity": "sigmoid", "semantic": "softmax",
    "small_object": "sigmoid",
}  # fmt: skip


def target_channels(name, options=None, ndim=3):
    """(target channels, network output channels) of a target for `ndim`-D labels.

    They differ for class-index targets (semantic, quantized_edt): one target channel holds the class, and
    the network outputs one channel per class (for cross-entropy).

    Examples
    --------
    >>> target_channels("affinity"), target_channels("quantized_edt", {"levels": 10})
    ((3, 3), (1, 11))
    """
    from pytc.kernels import DEFAULT_OFFSETS

    if name not in TARGETS:
        raise ValueError(f"target_channels: unknown target {name!r}; known: {sorted(TARGETS)}")
    options = options or {}
    if name == "affinity":
        n = len(options.get("offsets") or DEFAULT_OFFSETS[ndim])
        return n, n
    if name == "polarity":
        return 3, 3
    if name == "quantized_edt":
        return 1, int(options.get("levels", 10)) + 1
    if name == "semantic":
        classes = options.get("num_classes")
        if classes is None:
            raise ValueError("target_channels: the semantic target needs `num_classes` to size the network output")
        return (int(classes) if options.get("one_hot") else 1), int(classes)
    return 1, 1


_WEIGHTS = (None, "ratio", "unet")


def _parse(spec):
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(f"build_targets: a target spec must be a name or a dict with 'name', got {spec!r}")
    opts = dict(spec)
    name = opts.pop("name")
    if name not in TARGETS:
        raise ValueError(f"build_targets: unknown target {name!r}; known: {sorted(TARGETS)}")
    weight = opts.pop("weight", None)
    if weight not in _WEIGHTS:
        raise ValueError(f"build_targets: target {name!r}: weight must be one of {_WEIGHTS}, got {weight!r}")
    wopts = {k: opts.pop(k) for k in ("alpha", "w0", "sigma") if k in opts}
    allowed = {"ratio": {"alpha"}, "unet": {"w0", "sigma"}}.get(weight, set())
    if set(wopts) - allowed:
        raise ValueError(f"build_targets: target {name!r}: options {sorted(set(wopts) - allowed)} "
                         f"do not apply to weight={weight!r}")
    import inspect

    params = set(inspect.signature(TARGETS[name]).parameters) - {"label"}
    bad = sorted(set(opts) - params)
    if bad:
        raise ValueError(f"build_targets: target {name!r}: unknown options {bad}; known: {sorted(params)}")
    return name, opts, weight, wopts


def build_targets(label, specs, valid_mask=None):
    """Several targets stacked along channels, with weights and channel ranges.

    Parameters
    ----------
    label : ndarray, (Z, Y, X) or (Y, X), integer; not modified
    specs : list of str or dict
        Each a target name from :data:`TARGETS` or ``{"name": ..., **options}``; options are the
        target function's keywords plus ``weight`` (None: 1 everywhere, 'ratio':
        :func:`weight_binary_ratio` with optional ``alpha``, 'unet': :func:`weight_unet` with
        optional ``w0``, ``sigma``).
    valid_mask : ndarray, label's shape, optional
        Multiplied into every weight channel (0 = ignore).

    Returns
    -------
    target : float32 (C, Z, Y, X) (or (C, Y, X))
    weight : float32, same shape
    channels : list of (name, start, stop)
        Channel range of each task, in spec order.

    Examples
    --------
    >>> lab = np.zeros((2, 4, 4), np.uint32); lab[:, :2] = 1; lab[:, 2:] = 2
    >>> t, w, ch = build_targets(lab, ["affinity", {"name": "binary", "weight": "ratio"}])
    >>> t.shape, ch
    ((4, 2, 4, 4), [('affinity', 0, 3), ('binary', 3, 4)])
    """
    label = _labels(label, "build_targets")
    if isinstance(specs, (str, dict)):
        specs = [specs]
    parsed = [_parse(s) for s in specs]
    if not parsed:
        raise ValueError("build_targets: specs is empty")
    if valid_mask is not None:
        valid_mask = np.asarray(valid_mask)
        if valid_mask.shape != label.shape:
            raise ValueError(f"build_targets: valid_mask shape {valid_mask.shape} != "
                             f"label shape {label.shape}")
        valid_mask = valid_mask.astype(np.float32)
    targets, weights, channels, start = [], [], [], 0
    for name, opts, weight, wopts in parsed:
        t = TARGETS[name](label, **opts)
        if weight == "ratio":
            w = weight_binary_ratio(t, valid_mask if valid_mask is None else
                                    np.broadcast_to(valid_mask, t.shape), **wopts)
        elif weight == "unet":
            w = np.broadcast_to(weight_unet(label, **wopts), t.shape).astype(np.float32)
        else:
            w = np.ones(t.shape, np.float32)
        if valid_mask is not None:
            w = w * valid_mask
        targets.append(t)
        weights.append(w.astype(np.float32, copy=False))
        channels.append((name, start, start + t.shape[0]))
        start += t.shape[0]
    return (np.ascontiguousarray(np.concatenate(targets), dtype=np.float32),
            np.ascontiguousarray(np.concatenate(weights), dtype=np.float32), channels)
