import numpy as np
import pytest

from pytc.decode import boundary_to_affinity
from pytc.kernels._affinity import seg_to_affinity
from pytc.kernels._mutex_watershed import mutex_watershed
from pytc.kernels._reference.mutex_watershed import mutex_watershed_ref
from pytc.testing import read_gala, require_module

NEAREST_3D = [(-1, 0, 0), (0, -1, 0), (0, 0, -1)]
LONG_RANGE_3D = NEAREST_3D + [(-2, 0, 0), (0, -3, 0), (0, 0, -3), (-3, 0, 0), (0, -9, 0), (0, 0, -9)]
MIXED_3D = NEAREST_3D + [(1, 1, 1), (0, -2, 3), (-3, 0, 0), (0, 0, 4)]
LONG_RANGE_2D = [(-1, 0), (0, -1), (-2, 0), (0, -3), (-3, 3), (0, -9)]
MIXED_2D = [(-1, 0), (0, -1), (1, 1), (2, -2), (0, 5)]


def same_partition(a, b):
    """True if two label arrays define the same partition (equal up to relabeling)."""
    a, b = np.asarray(a).ravel().astype(np.int64), np.asarray(b).ravel().astype(np.int64)
    pairs = np.unique(np.stack([a, b]), axis=1).shape[1]
    return a.shape == b.shape and pairs == len(np.unique(a)) == len(np.unique(b))


def mwatershed_labels(aff, offsets, attractive):
    """mwatershed.agglom on the same problem: attractive edges as aff > 0, repulsive as aff - 1 < 0.

    mwatershed sorts by |weight| and treats the sign as the edge type; float32 aff - 1 is exactly
    -(1 - aff), so the order matches. It labels clusters that never merged (singletons) 0; those
    are given distinct ids here.
    """
    mwatershed = require_module("mwatershed", "the comparison with the peer")
    weights = aff.astype(np.float64)
    weights[attractive:] = aff[attractive:] - np.float32(1)
    seg = mwatershed.agglom(weights, [list(map(int, o)) for o in offsets]).astype(np.int64)
    singletons = seg == 0
    seg[singletons] = seg.max() + 1 + np.arange(singletons.sum())
    return seg


def check_labels(labels, mask=None):
    assert labels.dtype == np.uint64
    inside = labels if mask is None else labels[mask]
    if inside.size:
        assert inside.min() >= 1
        np.testing.assert_array_equal(np.unique(inside), np.arange(1, inside.max() + 1))  # consecutive
    if mask is not None:
        assert not labels[~mask].any()


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize(
    "shape, offsets, kwargs",
    [
        ((5, 6, 7), NEAREST_3D, {}),
        ((5, 6, 7), LONG_RANGE_3D, {}),
        ((4, 7, 6), MIXED_3D, {}),
        ((4, 7, 6), MIXED_3D, {"attractive": 5}),
        ((4, 7, 6), MIXED_3D, {"attractive": 0}),
        ((5, 6, 7), LONG_RANGE_3D, {"strides": (1, 2, 3)}),
        ((5, 6, 7), LONG_RANGE_3D, {"strides": (2, 2, 2), "randomize_strides": True, "seed": 3}),
        ((9, 11), LONG_RANGE_2D, {}),
        ((9, 11), MIXED_2D, {"strides": (2, 3)}),
        ((9, 11), MIXED_2D, {"strides": (2, 1), "randomize_strides": True, "seed": 5}),
    ],
)
def test_matches_reference(rng, shape, offsets, kwargs, ties):
    for _ in range(3):
        aff = rng.random((len(offsets),) + shape, dtype=np.float32)
        if ties:
            aff = np.round(aff * 4) / np.float32(4)  # many equal weights: the tie order must agree
        labels = mutex_watershed(aff, offsets, **kwargs)
        np.testing.assert_array_equal(labels, mutex_watershed_ref(aff, offsets, **kwargs))
        check_labels(labels)


@pytest.mark.parametrize("ndim", [2, 3])
def test_mask_matches_reference(rng, ndim):
    shape = (5, 6, 7)[-ndim:]
    offsets = LONG_RANGE_3D if ndim == 3 else LONG_RANGE_2D
    aff = rng.random((len(offsets),) + shape, dtype=np.float32)
    mask = rng.random(shape) > 0.3
    labels = mutex_watershed(aff, offsets, mask=mask)
    np.testing.assert_array_equal(labels, mutex_watershed_ref(aff, offsets, mask=mask))
    check_labels(labels, mask)
    np.testing.assert_array_equal(mutex_watershed(aff, offsets, mask=mask.astype(np.uint8)), labels)


def test_threads_and_uint8_input(rng):
    aff = rng.random((len(LONG_RANGE_3D), 20, 30, 40), dtype=np.float32)
    labels = mutex_watershed(aff, LONG_RANGE_3D, threads=1)
    for threads in (2, 3):
        np.testing.assert_array_equal(mutex_watershed(aff, LONG_RANGE_3D, threads=threads), labels)
    as_uint8 = (aff * 255).astype(np.uint8)
    np.testing.assert_array_equal(
        mutex_watershed(as_uint8, LONG_RANGE_3D),
        mutex_watershed(as_uint8.astype(np.float32) / np.float32(255), LONG_RANGE_3D),
    )


def test_randomized_strides_are_seeded(rng):
    aff = rng.random((len(LONG_RANGE_3D), 6, 10, 12), dtype=np.float32)
    a = mutex_watershed(aff, LONG_RANGE_3D, strides=(1, 2, 2), randomize_strides=True, seed=7)
    b = mutex_watershed(aff, LONG_RANGE_3D, strides=(1, 2, 2), randomize_strides=True, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    # fewer repulsive edges: fewer splits on average than without strides
    assert a.max() <= mutex_watershed(aff, LONG_RANGE_3D).max()


def test_recovers_segmentation_from_clean_affinities():
    seg = np.zeros((6, 20, 20), np.uint32)
    seg[:, :, :10], seg[:, :, 10:] = 1, 2
    seg[:, 12:, :] = 3
    aff = seg_to_affinity(seg, LONG_RANGE_3D)
    ties_broken = np.float32(1e-3) * np.arange(aff.size, dtype=np.float32).reshape(aff.shape) / aff.size
    labels = mutex_watershed(aff * np.float32(1 - 1e-3) + ties_broken, LONG_RANGE_3D)  # still in [0, 1]
    assert same_partition(labels, seg)


@pytest.mark.parametrize("ndim", [2, 3])
def test_matches_mwatershed_on_tie_free_input(rng, ndim):
    shape = (12, 20, 24)[-ndim:]
    offsets = LONG_RANGE_3D if ndim == 3 else LONG_RANGE_2D
    aff = rng.random((len(offsets),) + shape, dtype=np.float32)
    assert same_partition(mutex_watershed(aff, offsets), mwatershed_labels(aff, offsets, ndim))
    # (mwatershed's per-offset `strides` select edges differently from the grid used here, so
    # strided results are compared with the reference only.)


@pytest.fixture(scope="module")
def gala_affinities():
    p = read_gala("train-p1").astype(np.float32)
    if p.max() > 1:
        p /= np.float32(255)
    aff = boundary_to_affinity(p, LONG_RANGE_3D)
    # p1 is quantized (a few hundred distinct values): spread the weights with deterministic
    # noise so that ties (ordered differently by mwatershed) are too rare to change the result
    noise = np.random.default_rng(0).random(aff.shape, dtype=np.float32)
    return np.float32(0.9) * aff + np.float32(0.1) * noise


@pytest.mark.real_data
def test_real_data_matches_mwatershed_and_ground_truth(gala_affinities):
    from skimage.metrics import adapted_rand_error

    aff = gala_affinities
    labels = mutex_watershed(aff, LONG_RANGE_3D)
    check_labels(labels)
    assert same_partition(labels, mwatershed_labels(aff, LONG_RANGE_3D, 3))
    gt = read_gala("train-gt")
    error, _, _ = adapted_rand_error(gt, labels.astype(np.int64), ignore_labels=(0,))
    assert error < 0.5, error  # sanity: a real segmentation, not a strict quality bound


@pytest.mark.real_data
def test_real_data_crop_matches_reference(gala_affinities):
    aff = np.ascontiguousarray(gala_affinities[:, 20:24, 30:42, 50:64])
    np.testing.assert_array_equal(mutex_watershed(aff, LONG_RANGE_3D), mutex_watershed_ref(aff, LONG_RANGE_3D))


@pytest.mark.parametrize("shape", [(0, 4, 4), (3, 0, 4), (0, 0), (1, 1, 1), (1, 1)])
def test_empty_and_single_voxel(shape):
    offsets = LONG_RANGE_3D if len(shape) == 3 else LONG_RANGE_2D
    aff = np.full((len(offsets),) + shape, 0.5, np.float32)
    labels = mutex_watershed(aff, offsets)
    assert labels.shape == shape and labels.dtype == np.uint64
    np.testing.assert_array_equal(labels, np.ones(shape, np.uint64))
    np.testing.assert_array_equal(labels, mutex_watershed_ref(aff, offsets))


def test_all_masked_and_constant_affinities():
    aff = np.ones((3, 3, 4, 5), np.float32)
    assert not mutex_watershed(aff, NEAREST_3D, mask=np.zeros((3, 4, 5), bool)).any()
    np.testing.assert_array_equal(mutex_watershed(aff, NEAREST_3D), 1)  # all attractive: one segment
    np.testing.assert_array_equal(mutex_watershed(np.zeros_like(aff), NEAREST_3D), 1)  # weight 0 still merges


def test_input_not_modified_and_read_only(rng):
    aff = rng.random((len(MIXED_3D), 4, 5, 6), dtype=np.float32)
    aff.flags.writeable = False
    mask = rng.random((4, 5, 6)) > 0.2
    mask.flags.writeable = False
    before, mask_before = aff.copy(), mask.copy()
    labels = mutex_watershed(aff, MIXED_3D, mask=mask)
    np.testing.assert_array_equal(aff, before)
    np.testing.assert_array_equal(mask, mask_before)
    np.testing.assert_array_equal(labels, mutex_watershed_ref(before, MIXED_3D, mask=mask_before))


def test_non_contiguous_input(rng):
    aff = rng.random((len(MIXED_3D), 4, 5, 6), dtype=np.float32)
    fortran = np.asfortranarray(aff)
    np.testing.assert_array_equal(mutex_watershed(fortran, MIXED_3D), mutex_watershed(aff, MIXED_3D))


A3 = np.ones((3, 2, 3, 4), np.float32)


@pytest.mark.parametrize(
    "aff, offsets, kwargs, error, match",
    [
        (np.ones((3, 4), np.float32), [(1,), (2,), (3,)], {}, ValueError, r"`affinities` must be 3D.*ndim=2"),
        (A3.astype(np.float64), NEAREST_3D, {}, TypeError, r"`affinities` must be float32.*float64"),
        (
            np.where(A3 > 0, np.nan, 0).astype(np.float32),
            NEAREST_3D,
            {},
            ValueError,
            r"`affinities` must be probabilities in \[0, 1\]; got nan",
        ),
        (A3, NEAREST_3D[:2], {}, ValueError, r"`offsets` must have one entry per channel.*got 2"),
        (A3, [(1, 0), (0, 1), (1, 1)], {}, ValueError, r"`offsets` must hold one 3-tuple per channel"),
        (A3, [(0.5, 0, 0)] * 3, {}, TypeError, r"`offsets` must contain integers"),
        (A3, None, {}, TypeError, r"`offsets` must be given"),
        (A3, NEAREST_3D, {"attractive": 4}, ValueError, r"`attractive` must be in \[0, 3\].*got 4"),
        (A3, NEAREST_3D, {"attractive": 1.5}, TypeError, r"`attractive` must be an int"),
        (A3, NEAREST_3D, {"strides": (1, 2)}, ValueError, r"`strides` must be a sequence of 3 ints"),
        (A3, NEAREST_3D, {"strides": (1, 0, 1)}, ValueError, r"`strides`.*>= 1.*\(1, 0, 1\)"),
        (A3, NEAREST_3D, {"strides": (1, 1.5, 1)}, TypeError, r"`strides` must be a sequence"),
        (A3, NEAREST_3D, {"mask": np.ones((2, 3), bool)}, ValueError, r"`mask` must have shape \(2, 3, 4\).*\(2, 3\)"),
        (A3, NEAREST_3D, {"mask": np.ones((2, 3, 4), np.float32)}, TypeError, r"`mask` must be a bool.*float32"),
        (A3, NEAREST_3D, {"threads": 0}, ValueError, r"`threads` must be a positive int"),
    ],
)
def test_bad_input(aff, offsets, kwargs, error, match):
    with pytest.raises(error, match=match):
        mutex_watershed(aff, offsets, **kwargs)


def test_compiled_function_guards_its_pointers():
    from pytc import _ext

    aff = np.ones((3, 2, 3, 4), np.float32)
    offsets = np.array(NEAREST_3D, np.int64)
    labels = np.zeros((2, 3, 4), np.uint64)
    with pytest.raises(ValueError, match=r"`labels` must be uint64 of shape"):
        _ext.mutex_watershed(aff, offsets, 3, None, None, [1, 1, 1], np.zeros((2, 3, 5), np.uint64), 0)
    with pytest.raises(TypeError, match=r"`aff` must be float32"):
        _ext.mutex_watershed(aff.astype(np.float64), offsets, 3, None, None, [1, 1, 1], labels, 0)
    with pytest.raises(ValueError, match=r"`n_attractive` must be in"):
        _ext.mutex_watershed(aff, offsets, 4, None, None, [1, 1, 1], labels, 0)
    with pytest.raises(ValueError, match=r"stride\[1\] must be >= 1"):
        _ext.mutex_watershed(aff, offsets, 3, None, None, [1, 0, 1], labels, 0)
    with pytest.raises(ValueError, match=r"`keep` has shape"):
        _ext.mutex_watershed(aff, offsets, 1, None, np.ones((1, 2, 3, 4), np.uint8), [1, 1, 1], labels, 0)
