"""pytc.data.targets against plain loop / scipy references, on random and real labels."""

import glob

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from pytc.data.targets import (
    TARGETS,
    affinity_mask,
    affinity_target,
    binary_target,
    boundary_target,
    build_targets,
    energy_quantize,
    instance_edt_target,
    polarity_target,
    quantized_edt_target,
    semantic_edt_target,
    semantic_target,
    small_object_target,
    weight_binary_ratio,
    weight_unet,
)
from pytc.testing import require_module


def rand_labels(shape=(4, 14, 15), n=5, seed=0):
    rng = np.random.default_rng(seed)
    # blocky labels so instances have interiors
    small = rng.integers(0, n, size=tuple(max(1, s // 3) for s in shape))
    lab = small.repeat(3, 0).repeat(3, 1).repeat(3, 2)[: shape[0], : shape[1], : shape[2]]
    lab = np.pad(lab, [(0, s - l) for s, l in zip(shape, lab.shape)], mode="edge")
    lab[rng.random(shape) < 0.05] = 0
    return np.ascontiguousarray(lab, dtype=np.uint32)


@pytest.fixture(scope="module")
def gala():
    from pytc.testing import read_gala

    return np.ascontiguousarray(read_gala("train-gt")[:4, :40, :48])


@pytest.fixture(scope="module")
def mito():
    iio = require_module("imageio.v3", "reading the VNC PNG slices")
    from pytc.testing import require_data

    files = sorted(glob.glob(str(require_data("drosophila_vnc_sstem_stack1", "mitochondria") / "*.png")))[:3]
    m = np.stack([iio.imread(f)[300:364, 300:364] for f in files]) > 0
    lab = ndimage.label(m)[0].astype(np.uint32)
    return lab


# ---------------------------------------------------------------- references


def boundary_ref(lab, t, bg, mode):
    pad = [(0, 0) if (mode == "2d" and a == 0) else (t, t) for a in range(3)]
    win = [1 if (mode == "2d" and a == 0) else 2 * t + 1 for a in range(3)]
    p = sliding_window_view(np.pad(lab, pad, mode="reflect"), win)
    p = p.reshape(lab.shape + (-1,)).astype(np.int64)
    hi = p.max(-1)
    lo = p.min(-1) if bg else np.where(p == 0, np.int64(1) << 40, p).min(-1)
    return (hi > 0) & (hi != lo)


def boundary_convolve_ref(lab, t):
    """PyTC's do_convolve path, per slice: [1, 0, -1] filters (symmetric border), box dilation."""
    from scipy.signal import convolve2d
    from skimage.morphology import dilation

    out = np.zeros(lab.shape, bool)
    for z in range(lab.shape[0]):
        s = lab[z].astype(np.int64)
        ex = convolve2d(s, np.array([[1], [0], [-1]]), "same", boundary="symm")
        ey = convolve2d(s, np.array([[1, 0, -1]]), "same", boundary="symm")
        contour = (np.maximum(np.abs(ex), np.abs(ey)) != 0).astype(np.uint8)
        out[z] = dilation(contour, np.ones((2 * t + 1, 2 * t + 1), np.uint8)) > 0
    return out


def instance_edt_ref(lab, mode, res):
    out = np.zeros(lab.shape)
    parts = [(slice(z, z + 1),) for z in range(lab.shape[0])] if mode == "2d" else [(slice(None),)]
    for sl in parts:
        sub = lab[sl] if mode == "3d" else lab[sl][0]
        samp = res if mode == "3d" else res[1:]
        full = np.ones((3,) * sub.ndim)
        dst = np.zeros(sub.shape)
        for i in np.unique(sub[sub > 0]):
            cc, n = ndimage.label(sub == i, full)
            for c in range(1, n + 1):
                m = cc == c
                if m.all():
                    dst[m] = 1
                    continue
                d = ndimage.distance_transform_edt(m, sampling=samp)
                dst[m] = (d / d.max())[m]
        out[sl] = dst if mode == "3d" else dst[None]
    return out


def small_ref(lab, thr, rr):
    from skimage.measure import label as label_cc

    mask = np.zeros(lab.shape, bool)
    for z in range(lab.shape[0]):
        cc = label_cc(lab[z])
        ui, uc = np.unique(cc, return_counts=True)
        mask[z] |= np.isin(cc, ui[(uc < thr) & (ui > 0)])
    for y in range(lab.shape[1]):
        cc = label_cc(lab[:, y])
        ui, uc = np.unique(cc, return_counts=True)
        mask[:, y] |= np.isin(cc, ui[(uc < thr // rr) & (ui > 0)])
    for x in range(lab.shape[2]):
        cc = label_cc(lab[:, :, x])
        ui, uc = np.unique(cc, return_counts=True)
        mask[:, :, x] |= np.isin(cc, ui[(uc < thr // rr) & (ui > 0)])
    return mask


def unet_ref(seg, w0, sigma):
    """Brute force on one 2D slice: distances to every inner-boundary pixel."""
    from skimage.segmentation import find_boundaries

    ids = [i for i in np.unique(seg) if i > 0]
    yy, xx = np.indices(seg.shape)
    ds = []
    for i in ids:
        by, bx = np.nonzero(find_boundaries(seg == i, mode="inner"))
        d = np.sqrt((yy[..., None] - by) ** 2 + (xx[..., None] - bx) ** 2).min(-1)
        ds.append(d)
    ds = np.sort(np.stack(ds), axis=0)
    s = ds[0] if len(ids) == 1 else ds[0] + ds[1]
    w = w0 * np.exp(-(s**2) / (2 * sigma**2))
    bg = (seg == 0).mean()
    return w + np.where(seg > 0, bg, 1 - bg)


# ---------------------------------------------------------------- targets


def check_all(lab):
    before = lab.copy()
    assert np.array_equal(binary_target(lab)[0], lab > 0)
    assert np.array_equal(binary_target(lab, foreground=[1, 3])[0], np.isin(lab, [1, 3]))

    aff = affinity_target(lab, [(-1, 0, 0), (0, -2, 0), (0, 0, -1)])
    ref = np.zeros_like(aff)
    ref[0, 1:] = (lab[1:] == lab[:-1]) & (lab[1:] > 0)
    ref[1, :, 2:] = (lab[:, 2:] == lab[:, :-2]) & (lab[:, 2:] > 0)
    ref[2, :, :, 1:] = (lab[:, :, 1:] == lab[:, :, :-1]) & (lab[:, :, 1:] > 0)
    assert np.array_equal(aff, ref)

    for t in (0, 1, 2):
        for bg in (True, False):
            for mode in ("2d", "3d"):
                got = boundary_target(lab, thickness=t, background=bg, mode=mode)
                assert got.dtype == np.float32 and got.shape == (1,) + lab.shape
                assert np.array_equal(got[0], boundary_ref(lab, t, bg, mode)), (t, bg, mode)
        conv = boundary_target(lab, thickness=t, convolve=True)[0]
        assert np.array_equal(conv, boundary_convolve_ref(lab, t)), t
        conv3 = boundary_target(lab, thickness=t, convolve=True, mode="3d")[0]
        assert np.all(conv3 >= conv) and np.all(conv3 >= boundary_target(lab, t, mode="3d")[0])

    for mode, res in (("2d", (1, 1, 1)), ("3d", (1, 1, 1)), ("3d", (3.0, 1.0, 1.5))):
        got = instance_edt_target(lab, mode=mode, resolution=res)[0]
        ref = instance_edt_ref(lab, mode, res)
        np.testing.assert_allclose(got, ref, atol=1e-5)
        q = quantized_edt_target(lab, mode=mode, resolution=res)[0]
        refq = np.where(lab > 0, np.minimum(np.floor(ref * 10 + 1e-6) + 1, 10), 0)
        # values exactly on a bin edge may round either way in float32
        assert np.mean(q == refq) > 0.99 and q.max() <= 10 and set(np.unique(q)) <= set(range(11))

    for mode in ("2d", "3d"):
        fore, back = lab > 0, lab == 0
        if mode == "3d":
            d = (
                ndimage.distance_transform_edt(fore, (6, 1, 1)) / 4
                - ndimage.distance_transform_edt(back, (6, 1, 1)) / 50
            )
        else:
            d = np.stack(
                [
                    ndimage.distance_transform_edt(f) / 4 - ndimage.distance_transform_edt(b) / 50
                    for f, b in zip(fore, back)
                ]
            )
        np.testing.assert_allclose(semantic_edt_target(lab, mode=mode)[0], np.tanh(d), atol=1e-5)

    pol = polarity_target(lab)
    for z, y, x in np.ndindex(*lab.shape):
        v = int(lab[z, y, x])
        assert tuple(pol[:, z, y, x]) == (v > 0 and v % 2 == 1, v > 0 and v % 2 == 0, v > 0)

    assert np.array_equal(small_object_target(lab, 25, 2)[0], small_ref(lab, 25, 2))
    assert np.array_equal(small_object_target(lab, 7, 3)[0], small_ref(lab, 7, 3))
    assert np.array_equal(lab, before)


def test_targets_random():
    for seed in range(3):
        check_all(rand_labels(seed=seed))


@pytest.mark.real_data
def test_targets_gala(gala):
    check_all(gala)


@pytest.mark.real_data
def test_targets_mitochondria(mito):
    check_all(mito)


def test_quantize_scheme():
    e = np.array([-1, 0.0, 0.05, 0.1, 0.55, 0.95, 1.0], np.float32)
    assert energy_quantize(e).tolist() == [0, 1, 1, 2, 6, 10, 10]


def test_2d_labels_and_edge_cases():
    lab = rand_labels((1, 12, 13))[0]
    for name in TARGETS:
        f = TARGETS.get(name)
        if name == "small_object":
            continue
        t = f(lab)
        assert t.ndim == 3 and t.shape[1:] == lab.shape and t.dtype == np.float32, name
        if name == "affinity":  # 2D: two in-plane channels; 3D adds the z channel first
            assert np.array_equal(t, f(lab[None])[1:, 0])
            continue
        assert np.array_equal(t, f(lab[None])[:, 0]), name
    z = np.zeros((2, 5, 5), np.uint16)
    assert np.all(instance_edt_target(z) == 0) and np.all(quantized_edt_target(z) == 0)
    assert np.all(boundary_target(z) == 0)
    np.testing.assert_allclose(semantic_edt_target(z), -1)
    one = np.ones((2, 5, 5), np.uint16)
    assert np.all(instance_edt_target(one) == 1) and np.all(quantized_edt_target(one) == 10)
    np.testing.assert_allclose(semantic_edt_target(one), 1)
    single = np.zeros((1, 5, 5), np.int32)
    single[0, 2, 2] = 4
    assert instance_edt_target(single)[0, 0, 2, 2] == 1 and small_object_target(single)[0, 0, 2, 2] == 1


def test_semantic():
    lab = rand_labels()
    assert np.array_equal(semantic_target(lab)[0], lab)
    oh = semantic_target(lab, num_classes=5, one_hot=True)
    assert oh.shape == (5,) + lab.shape and np.array_equal(oh.argmax(0), lab) and np.all(oh.sum(0) == 1)
    with pytest.raises(ValueError, match="num_classes"):
        semantic_target(lab, num_classes=3)
    with pytest.raises(ValueError, match="num_classes"):
        semantic_target(lab, one_hot=True)


# ---------------------------------------------------------------- weights


def test_weight_binary_ratio():
    t = np.zeros((1, 4, 10, 10), np.float32)
    t[..., :2, :] = 1  # 20% foreground
    w = weight_binary_ratio(t)
    assert np.allclose(w[t == 1], 4.0) and np.allclose(w[t == 0], 1.0)
    t2 = 1 - t
    w2 = weight_binary_ratio(t2, alpha=2.0)
    assert np.allclose(w2[t2 == 0], 8.0) and np.allclose(w2[t2 == 1], 1.0)
    assert np.all(weight_binary_ratio(np.ones((2, 3))) == 1)
    m = np.zeros(t.shape, np.float32)
    m[..., :4, :] = 1  # 50% foreground within the mask
    wm = weight_binary_ratio(t, m)
    assert np.allclose(wm[m == 1], 1.0) and np.all(wm[m == 0] == 0)
    tiny = np.zeros((100,))
    tiny[0] = 1  # fraction clipped at 0.05
    assert np.isclose(weight_binary_ratio(tiny)[0], 19.0)


def test_weight_unet():
    lab = rand_labels((2, 12, 13), seed=3)
    lab[1] = 0
    w = weight_unet(lab, w0=10, sigma=5)
    np.testing.assert_allclose(w[0], unet_ref(lab[0], 10, 5), rtol=1e-5)
    assert np.all(w[1] == 0)
    one = np.zeros((12, 12), np.uint8)
    one[3:8, 3:8] = 2
    np.testing.assert_allclose(weight_unet(one, 5, 3), unet_ref(one, 5, 3), rtol=1e-5)


# ---------------------------------------------------------------- build_targets


def test_build_targets_channels_and_mask():
    lab = rand_labels()
    before = lab.copy()
    valid = (np.random.default_rng(1).random(lab.shape) > 0.3).astype(np.uint8)
    specs = [
        {"name": "affinity", "offsets": [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (0, -3, 0)]},
        "boundary",
        {"name": "binary", "weight": "ratio"},
        "polarity",
        {"name": "instance_edt", "mode": "3d", "weight": "unet", "w0": 5},
    ]
    t, w, ch = build_targets(lab, specs, valid_mask=valid)
    assert ch == [("affinity", 0, 4), ("boundary", 4, 5), ("binary", 5, 6), ("polarity", 6, 9), ("instance_edt", 9, 10)]
    assert t.shape == w.shape == (10,) + lab.shape and t.dtype == w.dtype == np.float32
    assert np.array_equal(t[4:5], boundary_target(lab))
    assert np.array_equal(t[6:9], polarity_target(lab))
    assert np.array_equal(w[:4], affinity_mask_loops(valid, [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (0, -3, 0)]))
    assert np.array_equal(w[4], valid)
    assert np.allclose(w[5:6], weight_binary_ratio(t[5:6], np.broadcast_to(valid, (1,) + lab.shape)))
    assert np.allclose(w[9], weight_unet(lab, w0=5) * valid)
    assert np.all(w[:, valid == 0] == 0)
    assert np.array_equal(lab, before)
    _t1, w1, ch1 = build_targets(lab, "binary")
    assert ch1 == [("binary", 0, 1)] and np.all(w1 == 1)


def affinity_mask_loops(mask, offsets):
    """affinity_mask by plain loops over voxels: mask[v] * mask[v + o], or mask[v] when v + o is outside."""
    mask = np.asarray(mask, np.float32)
    out = np.zeros((len(offsets),) + mask.shape, np.float32)
    for c, o in enumerate(offsets):
        for v in np.ndindex(mask.shape):
            n = tuple(a + b for a, b in zip(v, o))
            inside = all(0 <= a < s for a, s in zip(n, mask.shape))
            out[(c,) + v] = mask[v] * (mask[n] if inside else 1.0)
    return out


def test_affinity_mask_exact():
    mask = np.zeros((2, 3, 5), np.uint8)
    mask[:, :, 2:] = 1  # labelled: x >= 2
    offsets = [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (0, 0, -2), (0, 0, 1)]
    m = affinity_mask(mask, offsets)
    assert m.shape == (5, 2, 3, 5) and m.dtype == np.float32
    assert np.array_equal(m[0], mask) and np.array_equal(m[1], mask)  # edges inside the labelled columns
    row = lambda values: np.broadcast_to(np.array(values, np.float32), (2, 3, 5))  # noqa: E731
    assert np.array_equal(m[2], row([0, 0, 0, 1, 1]))  # x=2 -> x=1 leaves the labels
    assert np.array_equal(m[3], row([0, 0, 0, 0, 1]))  # long range: x=3 -> x=1 too
    assert np.array_equal(m[4], row([0, 0, 1, 1, 1]))  # x=4 -> x=5 is outside the array: mask[v]
    assert np.array_equal(affinity_mask(np.ones((3, 4)), None), np.ones((2, 3, 4)))  # 2D default offsets
    assert np.array_equal(affinity_mask(np.array([[0, 1, 1]]), [(0, -1)]), [[[0, 0, 1]]])


@pytest.mark.parametrize("ndim", [2, 3])
def test_affinity_mask_matches_loops(ndim):
    from pytc.kernels import LONG_RANGE_OFFSETS

    rng = np.random.default_rng(ndim)
    shape = (5, 12, 11)[-ndim:]
    mask = (rng.random(shape) > 0.3).astype(np.uint8)
    offsets = [o[-ndim:] for o in LONG_RANGE_OFFSETS if any(o[-ndim:])] + [(2, 3, -1)[-ndim:], (0, 1, 4)[-ndim:]]
    before = mask.copy()
    np.testing.assert_array_equal(affinity_mask(mask, offsets), affinity_mask_loops(mask, offsets))
    np.testing.assert_array_equal(mask, before)
    weights = rng.random(shape).astype(np.float32)  # fractional masks multiply
    np.testing.assert_allclose(affinity_mask(weights, offsets), affinity_mask_loops(weights, offsets), rtol=1e-6)
    with pytest.raises(ValueError, match="affinity_mask: `offsets` must hold one"):
        affinity_mask(mask, [(0, 1, 0, 0)])


@pytest.mark.real_data
@pytest.mark.parametrize("ndim", [2, 3])
def test_masked_affinities_agree_with_the_full_ground_truth(gala, ndim):
    """Labels known only inside a patch (0 elsewhere, as ingested labels are): every affinity edge that keeps a
    weight has the target of the full ground truth, and every edge inside the patch keeps its weight."""
    from pytc.kernels import LONG_RANGE_OFFSETS

    full = gala if ndim == 3 else gala[1]
    patch = (slice(1, 3), slice(8, 30), slice(10, 40))[-ndim:]
    mask = np.zeros(full.shape, np.uint8)
    mask[patch] = 1
    partial = np.where(mask > 0, full, 0)
    offsets = [o[-ndim:] for o in LONG_RANGE_OFFSETS if any(o[-ndim:])]
    specs = [{"name": "affinity", "offsets": offsets}, "binary"]
    t, w, _ = build_targets(partial, specs, valid_mask=mask)
    t_full, _, _ = build_targets(full, specs)
    kept = w > 0
    np.testing.assert_array_equal(t[kept], t_full[kept])
    a = len(offsets)
    both_inside = affinity_mask_loops(mask, offsets) > 0
    assert np.array_equal(kept[:a], both_inside) and np.array_equal(kept[a], mask > 0)
    # a per-voxel mask would have kept edges leaving the patch, whose target is a false boundary
    leaving = (mask[None] > 0) & ~both_inside
    assert np.any(leaving & (t[:a] != t_full[:a]))


def test_bad_specs():
    lab = rand_labels()
    with pytest.raises(ValueError, match=r"`nope` is not a known target.*'affinity'"):
        build_targets(lab, ["nope"])
    with pytest.raises(ValueError, match=r"unknown options \['thick'\]"):
        build_targets(lab, [{"name": "boundary", "thick": 2}])
    with pytest.raises(ValueError, match="`weight` must be one of"):
        build_targets(lab, [{"name": "binary", "weight": "focal"}])
    with pytest.raises(ValueError, match=r"\['w0'\] do not apply"):
        build_targets(lab, [{"name": "binary", "weight": "ratio", "w0": 3}])
    with pytest.raises(ValueError, match=r"`valid_mask` must be of the label's shape .*; got shape \(2, 2\)"):
        build_targets(lab, ["binary"], valid_mask=np.ones((2, 2)))
    with pytest.raises(ValueError, match="`mode` must be one of"):
        build_targets(lab, [{"name": "boundary", "mode": "4d"}])
    with pytest.raises(ValueError, match="thickness"):
        boundary_target(lab, thickness=-1)
    with pytest.raises(TypeError, match="`label` must be an integer label array"):
        binary_target(lab.astype(np.float32))
    with pytest.raises(ValueError, match=r"`label` must be 3D \(Z, Y, X\); got ndim=2"):
        small_object_target(lab[0])
    with pytest.raises(ValueError, match="`specs` must be at least one target spec; got an empty list"):
        build_targets(lab, [])


def test_spec_channels_match_build_targets():
    from pytc.data.targets import spec_channels, target_channels

    lab = rand_labels()
    specs = [
        "affinity",
        {"name": "semantic", "num_classes": 4, "one_hot": True},
        "semantic",
        {"name": "quantized_edt", "levels": 5},
        "polarity",
        "small_object",
    ]
    lab = lab % 4
    assert spec_channels(specs) == build_targets(lab, specs)[2]
    assert spec_channels(["affinity"], ndim=2) == build_targets(lab[0], ["affinity"])[2] == [("affinity", 0, 2)]
    assert target_channels("semantic", {"num_classes": 4}) == (1, 4)
    with pytest.raises(ValueError, match="`nope` is not a known target"):
        spec_channels(["nope"])
    with pytest.raises(TypeError, match=r"`specs` must be target names or dicts with a 'name'; got \{'mode': '2d'\}"):
        spec_channels([{"mode": "2d"}])
