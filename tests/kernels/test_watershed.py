import re

import numpy as np
import pytest

from pytc.decode import boundary_to_affinity
from pytc.kernels._reference.watershed import watershed_ref
from pytc.kernels._watershed import watershed
from pytc.testing import read_gala


@pytest.mark.parametrize("kind", ["random", "ties", "uint8", "masked"])
def test_matches_reference(rng, kind):
    for _ in range(8):
        shape = tuple(rng.integers(1, 8, 3))
        if kind == "ties":
            aff = (rng.integers(0, 5, (3,) + shape) / 4).astype(np.float32)
        elif kind == "uint8":
            aff = rng.integers(0, 256, (3,) + shape).astype(np.uint8)
        else:
            aff = rng.random((3,) + shape).astype(np.float32)
        kw = dict(
            size_threshold=int(rng.integers(0, 10)),
            dust=int(rng.integers(0, 5)),
            low=float(rng.choice([0.0001, 0.2])),
            high=float(rng.choice([0.9999, 0.7])),
        )
        if kind == "masked":
            kw["mask"] = rng.random(shape) > 0.2
        before = aff.copy()
        out = watershed(aff, **kw)
        np.testing.assert_array_equal(aff, before)
        np.testing.assert_array_equal(out, watershed_ref(aff, **kw))
        assert out.dtype == np.uint64
        ids = np.unique(out[out > 0])
        np.testing.assert_array_equal(ids, np.arange(1, ids.size + 1))


def test_edge_cases():
    assert watershed(np.zeros((3, 0, 4, 4), np.float32)).shape == (0, 4, 4)
    np.testing.assert_array_equal(watershed(np.ones((3, 1, 1, 1), np.float32), dust=0), [[[1]]])
    assert (watershed(np.ones((3, 4, 5, 6), np.float32)) == 1).all()
    assert watershed(np.ones((3, 2, 2, 2), np.float32), mask=np.zeros((2, 2, 2), bool)).max() == 0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(low=0.9, high=0.1), ValueError, "`low` must be <= `high`"),
        (dict(low=-0.1), ValueError, "`low`"),
        (dict(size_threshold=-1), ValueError, "`size_threshold`"),
        (dict(dust=-1), ValueError, "`dust`"),
        (dict(mask=np.ones((2, 2, 2), bool)), ValueError, "`mask`"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        watershed(np.ones((3, 3, 3, 3), np.float32), **kwargs)


def test_bad_affinities():
    with pytest.raises(ValueError, match="`affinities`"):
        watershed(np.ones((2, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="`affinities`"):
        watershed(np.ones((3, 3, 3), np.float32))
    aff = np.ones((3, 3, 3, 3), np.float32)
    aff[0, 1, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        watershed(aff)


@pytest.mark.parametrize(
    "where", [(0, 0, 0, 0), (0, 0, 5, 7), (1, 3, 0, 9), (2, 4, 6, 0), (2, 39, 35, 29), (1, 20, 10, 10), (0, 39, 35, 29)]
)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, -0.25, 1.5])
def test_non_probability_anywhere_is_rejected(where, threads, value):
    # float32 (3, Z, Y, X) input without a mask is checked by the kernel while it reads it (border edges
    # included); with a mask, by the wrapper: the same message either way
    aff = np.random.default_rng(0).random((3, 40, 36, 30), dtype=np.float32)  # above the parallel cutoff
    aff[where] = value
    message = f"`affinities` must be probabilities in [0, 1]; got {np.float32(value)} at {list(where)}"
    with pytest.raises(ValueError, match=re.escape(message)):
        watershed(aff, threads=threads)
    with pytest.raises(ValueError, match=re.escape(message)):
        watershed(aff, threads=threads, mask=np.ones(aff.shape[1:], bool))
    four = np.concatenate([np.nan_to_num(aff, nan=0.5), np.full((1,) + aff.shape[1:], np.nan, np.float32)])
    with pytest.raises(ValueError, match="NaN"):
        watershed(four, threads=threads)  # channel 3 is not read but still checked


@pytest.mark.real_data
def test_real_data_is_an_oversegmentation():
    from skimage.metrics import adapted_rand_error

    gt = read_gala("train-gt")
    aff = boundary_to_affinity(read_gala("train-p1"))
    seg = watershed(aff)
    error, _precision, recall = adapted_rand_error(gt, seg, ignore_labels=(0,))
    assert error < 0.4 and recall > 0.7
    inside = (gt > 0) & (seg > 0)
    s, g = seg[inside].astype(np.int64), gt[inside].astype(np.int64)
    (ps, _), counts = np.unique(np.stack([s, g]), axis=1, return_counts=True)
    best = np.zeros(s.max() + 1, np.int64)
    np.maximum.at(best, ps, counts)
    total = np.bincount(s)
    ids = np.nonzero(total)[0]
    assert (best[ids] / total[ids] > 0.9).mean() > 0.9
    seg8 = watershed(np.round(aff * 255).astype(np.uint8))
    assert seg8.max() > 10


@pytest.mark.parametrize("levels", [2, 3, 4, 256])
def test_plateaus_match_reference_on_all_thread_counts(rng, levels):
    # few affinity levels give large plateaus and flat maxima (the breadth-first search and the
    # union of flat maxima); larger volumes than above, with and without a mask
    for i in range(6):
        shape = tuple(rng.integers(1, 14, 3))
        aff = (rng.integers(0, levels, (3,) + shape) / (levels - 1)).astype(np.float32)
        kw = dict(
            size_threshold=int(rng.integers(0, 30)),
            dust=int(rng.integers(0, 8)),
            low=float(rng.choice([0.0001, 0.34])),
            high=float(rng.choice([0.9999, 0.5])),
        )
        if i % 2:
            kw["mask"] = rng.random(shape) > 0.2
        ref = watershed_ref(aff, **kw)
        for threads in (1, 2):
            np.testing.assert_array_equal(watershed(aff, threads=threads, **kw), ref)


@pytest.mark.parametrize("shape, masked", [((36, 32, 30), False), ((3, 110, 100), True)])
def test_parallel_stages_match_reference(rng, shape, masked):
    # volumes above the parallel cutoff (2^15 voxels): the basins are labelled on z slabs in
    # parallel and joined at the slab borders (with 3 planes, slabs of one plane)
    aff = (rng.integers(0, 4, (3,) + shape) / 3).astype(np.float32)
    kw = dict(size_threshold=20, dust=5)
    if masked:
        kw["mask"] = rng.random(shape) > 0.1
    ref = watershed_ref(aff, **kw)
    for threads in (1, 2, 3):
        np.testing.assert_array_equal(watershed(aff, threads=threads, **kw), ref)
    np.testing.assert_array_equal(
        watershed(aff, threads=2, size_threshold=0, dust=0), watershed(aff, threads=1, size_threshold=0, dust=0)
    )


@pytest.mark.parametrize("size_threshold, dust, weight_threshold", [(10, 5, 0.5), (3, 8, None), (6, 6, 0.3)])
def test_dust_pass_with_other_thresholds(rng, size_threshold, dust, weight_threshold):
    # the dust pass is skipped only when it cannot merge (dust <= size_threshold and
    # low >= weight_threshold); these cases need it
    for _ in range(6):
        shape = tuple(rng.integers(2, 12, 3))
        aff = (rng.integers(0, 6, (3,) + shape) / 5).astype(np.float32)
        kw = dict(size_threshold=size_threshold, dust=dust, weight_threshold=weight_threshold, low=0.1)
        np.testing.assert_array_equal(watershed(aff, **kw), watershed_ref(aff, **kw))
