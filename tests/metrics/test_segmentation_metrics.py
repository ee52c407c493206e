import warnings

import numpy as np
import pytest
from skimage.metrics import adapted_rand_error, variation_of_information

from pytc.kernels._reference.metrics import adapted_rand_ref, voi_ref
from pytc.metrics import adapted_rand, evaluate, voi
from pytc.testing import read_gala, require_data

LABEL_DTYPES = [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64]
TOL = dict(rtol=0, atol=1e-9)


def skimage_scores(seg, gt, ignore=(0,)):
    """skimage's metrics on pytc's conventions: (error, precision, recall, split, merge)."""
    # skimage returns precision and recall swapped (scikit-image issue #6485).
    error, recall, precision = adapted_rand_error(image_true=gt, image_test=seg, ignore_labels=ignore)
    split, merge = variation_of_information(gt, seg, ignore_labels=ignore)
    return error, precision, recall, split, merge


def assert_agrees(seg, gt, ignore_gt=(0,), ignore_seg=(), skimage=True, **kwargs):
    scores = evaluate(seg, gt, ignore_gt=ignore_gt, ignore_seg=ignore_seg, **kwargs)
    got = [scores[k] for k in ("adapted_rand_error", "rand_precision", "rand_recall", "voi_split", "voi_merge")]
    assert all(type(v) is float for v in scores.values())
    assert scores["voi"] == scores["voi_split"] + scores["voi_merge"]
    ref = adapted_rand_ref(seg, gt, ignore_gt=ignore_gt, ignore_seg=ignore_seg, return_all=True)
    ref += voi_ref(seg, gt, ignore_gt=ignore_gt, ignore_seg=ignore_seg)
    np.testing.assert_allclose(got, ref, **TOL)
    assert adapted_rand(seg, gt, ignore_gt=ignore_gt, ignore_seg=ignore_seg) == scores["adapted_rand_error"]
    assert voi(seg, gt, ignore_gt=ignore_gt, ignore_seg=ignore_seg) == (scores["voi_split"], scores["voi_merge"])
    if skimage:
        assert not ignore_seg, "skimage has no seg-side ignore"
        np.testing.assert_allclose(got, skimage_scores(seg, gt, ignore_gt), **TOL)
    return scores


def labels(rng, shape, dtype, n):
    out = rng.integers(0, n, size=shape)
    return np.repeat(out, 3, axis=-1)[..., : shape[-1]].astype(dtype)


@pytest.mark.parametrize("seg_dtype", LABEL_DTYPES)
@pytest.mark.parametrize("gt_dtype", [np.uint8, np.int32, np.uint64])
@pytest.mark.parametrize("ndim", [2, 3])
def test_random_labels_match_skimage_and_reference(rng, seg_dtype, gt_dtype, ndim):
    shape = (6, 14, 15)[-ndim:]
    gt = labels(rng, shape, gt_dtype, 6)
    seg = labels(rng, shape, seg_dtype, 9)
    for layout in (np.asfortranarray(seg), seg[..., ::-1].copy()[..., ::-1], np.ascontiguousarray(seg)):
        assert_agrees(layout, gt)
    assert_agrees(seg, np.asfortranarray(gt), ignore_gt=(0, 3))
    # skimage needs nonnegative labels (they index its sparse matrix)


def test_ignore_seg_matches_skimage_on_masked_gt(rng):
    gt = labels(rng, (8, 20, 20), np.uint32, 7)
    seg = labels(rng, (8, 20, 20), np.int16, 5)
    scores = assert_agrees(seg, gt, ignore_seg=(0, 4), skimage=False)
    masked = np.where(np.isin(seg, (0, 4)), 0, gt)  # ignoring seg 0 and 4 = gt 0 there
    np.testing.assert_allclose(
        [scores[k] for k in ("adapted_rand_error", "rand_precision", "rand_recall", "voi_split", "voi_merge")],
        skimage_scores(seg, masked, (0,)),
        **TOL,
    )


def test_skimage_voi_ignores_only_its_first_image(rng):
    """variation_of_information(gt, seg, ignore_labels) drops voxels by gt only, like ignore_gt."""
    gt = labels(rng, (10, 30), np.uint16, 4)
    seg = labels(rng, (10, 30), np.uint16, 4)
    assert 0 in seg and 0 in gt
    np.testing.assert_allclose(
        voi(seg, gt, ignore_gt=(0,)), variation_of_information(gt, seg, ignore_labels=(0,)), **TOL
    )
    np.testing.assert_allclose(voi(seg, gt, ignore_gt=()), variation_of_information(gt, seg), **TOL)


def test_precision_and_recall_directions():
    gt = np.array([[1, 1, 2, 2, 3, 3]], dtype=np.uint8)
    merged = np.ones_like(gt)
    split = np.arange(6).reshape(1, 6)
    error, precision, recall = adapted_rand(merged, gt, return_all=True)
    assert recall == 1.0 and precision == pytest.approx(6 / 30) and error > 0
    assert voi(merged, gt)[0] == 0.0 and voi(merged, gt)[1] > 0  # a merge: no split
    error, precision, recall = adapted_rand(split, gt, return_all=True)
    assert precision == 1.0 and recall == 0.0 and error == 1.0  # all singletons: no pair in seg
    assert voi(split, gt) == (pytest.approx(1.0), 0.0)


@pytest.mark.real_data
def test_real_gala_watershed_fragments():
    gt, ws = read_gala("train-gt"), read_gala("train-ws")
    scores = assert_agrees(ws, gt)
    assert 0.05 < scores["adapted_rand_error"] < 0.95 and scores["voi_split"] > scores["voi_merge"]  # over-segmentation
    assert evaluate(ws.astype(np.uint64), np.asfortranarray(gt).astype(np.uint16), threads=2) == pytest.approx(
        scores, abs=1e-12
    )


@pytest.mark.real_data
def test_real_snemi_fragments():
    import tifffile

    folder = require_data("gala_snemi_mini_labels_only")
    gt = tifffile.imread(folder / "train-labels.tif")
    seg = tifffile.imread(folder / "train-fragments.tif")
    scores = assert_agrees(seg, gt)
    assert scores["adapted_rand_error"] > 0 and scores["voi"] > 0


@pytest.mark.real_data
@pytest.mark.parametrize("dtype", [np.uint8, np.int64])
def test_perfect_segmentation_has_zero_errors(dtype):
    gt = read_gala("test-gt")[:20]
    _, relabeled = np.unique(gt, return_inverse=True)  # same segments, other ids
    seg = (relabeled.reshape(gt.shape) * 7 + 3).astype(np.int64)
    scores = evaluate(seg, gt.astype(dtype) if dtype == np.int64 else gt)
    assert scores == {
        "adapted_rand_error": 0.0,
        "rand_precision": 1.0,
        "rand_recall": 1.0,
        "voi_split": 0.0,
        "voi_merge": 0.0,
        "voi": 0.0,
    }
    small = np.array([[1, 1], [2, 2]], dtype=dtype)
    assert adapted_rand(small, small) == 0.0 and voi(small, small) == (0.0, 0.0)


@pytest.mark.parametrize(
    "seg, gt",
    [
        (np.zeros((0, 4), np.uint32), np.zeros((0, 4), np.uint32)),  # no voxel
        (np.arange(12).reshape(3, 4), np.zeros((3, 4), np.uint8)),  # every voxel ignored
        (np.array(5), np.array(1)),
    ],  # one voxel (0-d)
)
def test_empty_or_fully_ignored_gives_zero_errors(seg, gt):
    """The metrics themselves take 0/0 as a perfect score; `evaluate`, which reports, refuses to score nothing."""
    assert adapted_rand(seg, gt, return_all=True) == (0.0, 1.0, 1.0) and voi(seg, gt) == (0.0, 0.0)
    assert adapted_rand_ref(seg, gt, return_all=True) == (0.0, 1.0, 1.0)
    assert voi_ref(seg, gt) == (0.0, 0.0)
    if seg.ndim == 0:  # one voxel, counted
        assert evaluate(seg, gt)["adapted_rand_error"] == 0.0
        return
    with pytest.raises(ValueError, match="evaluate: nothing to score"):
        evaluate(seg, gt)


def test_inputs_are_unchanged(rng):
    gt = labels(rng, (5, 6, 7), np.int32, 4)
    seg = labels(rng, (5, 6, 7), np.uint8, 4)
    gt.flags.writeable = False
    before = seg.copy(), gt.copy()
    evaluate(seg, gt)
    np.testing.assert_array_equal(seg, before[0])
    np.testing.assert_array_equal(gt, before[1])


@pytest.mark.parametrize("fn", [adapted_rand, voi, evaluate])
def test_bad_inputs(fn):
    name = fn.__name__
    seg = np.zeros((3, 4, 5), dtype=np.uint32)
    with pytest.raises(
        ValueError,
        match=rf"{name}: `seg` and `gt` must have the same shape; got seg shape \(3, 4, 5\) and gt shape \(3, 4\)",
    ):
        fn(seg, seg[..., 0])
    with pytest.raises(TypeError, match=rf"{name}: `gt` must be an integer label array.*float64"):
        fn(seg, seg.astype(np.float64))
    with pytest.raises(TypeError, match=rf"{name}: `seg` must be an integer label array.*bool"):
        fn(seg > 0, seg)
    with pytest.raises(TypeError, match=rf"{name}: `ignore_gt` must hold integer labels"):
        fn(seg, seg, ignore_gt=(0.0,))


def test_skimage_is_nan_where_pytc_defines_zero():
    """Documents the one convention that differs: skimage divides 0 by 0 when nothing is counted."""
    gt = np.zeros((2, 3), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(adapted_rand_error(image_true=gt, image_test=gt)[0])
    assert adapted_rand(gt, gt) == 0.0
