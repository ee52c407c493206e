import numpy as np
import pytest

from pytc.decode import boundary_to_affinity
from pytc.kernels._agglomerate import agglomerate, iter_agglomerate, parse_scoring
from pytc.kernels._reference.agglomerate import TieError, agglomerate_ref
from pytc.testing import read_gala, require_data, require_module

SCORINGS = [
    "mean",
    "max",
    "min",
    "quantile-0",
    "quantile-50",
    "quantile-75",
    "quantile-100",
    "quantile-25-histogram",
    "quantile-50-histogram",
    "quantile-90-histogram",
]
WATERZ_MEAN = "OneMinus<MeanAffinity<RegionGraphType,ScoreValue>>"


def waterz_histogram(q, init):
    return f"OneMinus<HistogramQuantileAffinity<RegionGraphType,{q},ScoreValue,256,{str(init).lower()}>>"


def assert_same_partition(a, b):
    """Equal up to relabelling, with background (0) kept."""
    assert a.shape == b.shape
    np.testing.assert_array_equal(a == 0, b == 0)
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    assert len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


def random_case(rng, max_side=7, n_labels=12):
    shape = tuple(int(s) for s in rng.integers(1, max_side + 1, size=3))
    fragments = rng.integers(0, n_labels, size=shape).astype(np.uint64)
    affinities = rng.random((3,) + shape).astype(np.float32)
    thresholds = sorted(rng.random(3).tolist())
    return affinities, thresholds, fragments


def adapted_rand(gt, seg):
    from skimage.metrics import adapted_rand_error

    return adapted_rand_error(gt, seg, ignore_labels=(0,))[0]


def waterz_segmentations(affinities, thresholds, fragments, scoring_function):
    waterz = require_module("waterz", "the comparison with the peer")
    return [
        s.copy()
        for s in waterz.agglomerate(
            affinities, thresholds, fragments=fragments.astype(np.uint64), scoring_function=scoring_function
        )
    ]


@pytest.mark.parametrize("scoring", SCORINGS)
@pytest.mark.parametrize("init_with_max", [True, False])
def test_matches_reference_on_random_inputs(rng, scoring, init_with_max):
    compared = 0
    for _ in range(12):
        affinities, thresholds, fragments = random_case(rng)
        try:
            expected = agglomerate_ref(
                affinities, thresholds, fragments=fragments, scoring=scoring, init_with_max=init_with_max, strict=True
            )
        except TieError:
            continue  # implementations may merge exactly tied edges in another order
        result = agglomerate(affinities, thresholds, fragments=fragments, scoring=scoring, init_with_max=init_with_max)
        assert len(result) == len(thresholds)
        for seg, ref in zip(result, expected):
            assert seg.dtype == np.uint64
            assert_same_partition(seg, ref)
        compared += 1
    assert compared >= 3


@pytest.mark.parametrize(
    "scoring,waterz_name",
    [
        ("mean", WATERZ_MEAN),
        ("quantile-50-histogram", waterz_histogram(50, True)),
        ("quantile-25-histogram", waterz_histogram(25, True)),
    ],
)
@pytest.mark.parametrize("init_with_max", [True, False])
def test_matches_waterz_on_random_inputs(rng, scoring, waterz_name, init_with_max):
    if scoring == "mean" and not init_with_max:
        pytest.skip("init_with_max only applies to the quantile scorings")
    waterz_name = waterz_name.replace(",true>", f",{str(init_with_max).lower()}>")
    compared = 0
    for _ in range(12):
        affinities, thresholds, fragments = random_case(rng)
        try:
            agglomerate_ref(
                affinities, thresholds, fragments=fragments, scoring=scoring, init_with_max=init_with_max, strict=True
            )
        except TieError:
            continue
        result = agglomerate(affinities, thresholds, fragments=fragments, scoring=scoring, init_with_max=init_with_max)
        for seg, theirs in zip(result, waterz_segmentations(affinities, thresholds, fragments, waterz_name)):
            assert_same_partition(seg, theirs)
        compared += 1
    assert compared >= 3


def test_waterz_scoring_strings_are_accepted(rng):
    affinities, thresholds, fragments = random_case(rng)
    for ours, theirs in [
        ("mean", "OneMinus<MeanAffinity<RegionGraphType, ScoreValue>>"),
        ("max", "OneMinus<MaxAffinity<RegionGraphType, ScoreValue>>"),
        ("min", "OneMinus<MinAffinity<RegionGraphType, ScoreValue>>"),
        ("quantile-50", "OneMinus<QuantileAffinity<RegionGraphType, 50, ScoreValue>>"),
        ("quantile-50-histogram", "OneMinus<HistogramQuantileAffinity<RegionGraphType, 50, ScoreValue, 256>>"),
    ]:
        assert parse_scoring(ours) == parse_scoring(theirs)
        for a, b in zip(
            agglomerate(affinities, thresholds, fragments=fragments, scoring=ours),
            agglomerate(affinities, thresholds, fragments=fragments, scoring=theirs),
        ):
            np.testing.assert_array_equal(a, b)
    assert parse_scoring(waterz_histogram(30, False)) == ("histogram", 30, False)
    assert parse_scoring("quantile-30-histogram", init_with_max=False) == ("histogram", 30, False)


def test_iter_agglomerate_equals_list_and_thresholds_are_incremental(rng):
    affinities, _, fragments = random_case(rng, max_side=8, n_labels=30)
    thresholds = [0.0, 0.2, 0.2, 0.5, 0.8, 1.0, 2.0]
    listed = agglomerate(affinities, thresholds, fragments=fragments)
    iterated = list(iter_agglomerate(affinities, thresholds, fragments=fragments))
    counts = []
    for a, b, t in zip(listed, iterated, thresholds):
        np.testing.assert_array_equal(a, b)
        # each threshold on its own gives the same partition as the incremental pass
        (single,) = agglomerate(affinities, [t], fragments=fragments)
        np.testing.assert_array_equal(a, single)
        counts.append(len(np.unique(a)))
    assert counts == sorted(counts, reverse=True)
    assert_same_partition(listed[0], fragments)  # threshold 0: no score is < 0
    np.testing.assert_array_equal(listed[1], listed[2])
    assert list(iter_agglomerate(affinities, [], fragments=fragments)) == []


def test_labels_are_fragment_labels_and_background_stays(rng):
    affinities, thresholds, fragments = random_case(rng, max_side=6)
    fragments = fragments * np.uint64(1000) + (fragments > 0).astype(np.uint64) * np.uint64(7)  # sparse labels
    for seg in agglomerate(affinities, thresholds + [2.0], fragments=fragments):
        assert set(np.unique(seg[seg > 0])) <= set(np.unique(fragments[fragments > 0]))
        np.testing.assert_array_equal(seg == 0, fragments == 0)
        for label in np.unique(fragments):
            assert len(np.unique(seg[fragments == label])) == 1


def test_huge_labels_use_the_sparse_path(rng):
    affinities, thresholds, fragments = random_case(rng, max_side=6)
    huge = np.where(fragments > 0, fragments + np.uint64(2**60), 0).astype(np.uint64)
    for a, b in zip(
        agglomerate(affinities, thresholds, fragments=huge), agglomerate(affinities, thresholds, fragments=fragments)
    ):
        assert_same_partition(a, b)
        assert a[a > 0].min(initial=2**60) >= 2**60


def test_a_huge_label_after_small_ones_switches_to_the_sparse_path(rng):
    """Labels are numbered as the region graph meets them: a huge label in the last plane moves
    the labels seen so far from the table to the hash map mid-scan."""
    affinities, thresholds, fragments = random_case(rng, max_side=6)
    fragments[-1] = np.where(fragments[-1] > 0, fragments[-1] + np.uint64(2**62), 0)
    small = fragments.copy()
    small[-1] = np.where(small[-1] > 0, small[-1] - np.uint64(2**62) + np.uint64(100), 0)
    for a, b in zip(
        agglomerate(affinities, thresholds, fragments=fragments), agglomerate(affinities, thresholds, fragments=small)
    ):
        assert_same_partition(a, b)
        assert set(np.unique(a)) <= set(np.unique(fragments))


@pytest.mark.parametrize("scoring", ["mean", "max", "quantile-50", "quantile-50-histogram"])
def test_long_rows_with_short_and_long_runs_match_the_reference(rng, scoring):
    """Rows of 300 voxels mixing runs of one voxel and long runs, and rows identical to their
    neighbours: the run overlaps cover every face once."""
    compared = 0
    for _ in range(6):
        runs = rng.integers(1, 40, size=60)
        row = np.repeat(rng.integers(0, 9, size=len(runs)), runs)[:300]
        fragments = np.stack([np.roll(row, int(s)) for s in rng.integers(-3, 4, size=6)]).reshape(2, 3, -1)
        fragments[0, 1] = fragments[0, 0]  # a row equal to the one before
        fragments = fragments.astype(np.uint64)
        affinities = rng.random((3,) + fragments.shape).astype(np.float32)
        thresholds = sorted(rng.random(3).tolist())
        try:
            expected = agglomerate_ref(affinities, thresholds, fragments=fragments, scoring=scoring, strict=True)
        except TieError:
            continue
        for seg, ref in zip(agglomerate(affinities, thresholds, fragments=fragments, scoring=scoring), expected):
            assert_same_partition(seg, ref)
        compared += 1
    assert compared >= 3


def test_merging_above_the_limit_is_refused():
    """The private state leaves edges scoring at least `limit` out of its queue, so it refuses
    thresholds above it."""
    from pytc.kernels._agglomerate import _ext

    aff = np.full((3, 1, 1, 4), 0.5, dtype=np.float32)
    frag = np.arange(1, 5, dtype=np.uint64).reshape(1, 1, 4)
    state = _ext.Agglomeration(frag, aff, 0, 50, True, 0.6, 1)
    assert state.merge_until(0.6) == 3  # scores 0.5 < 0.6: everything merges
    with pytest.raises(ValueError, match="above the limit"):
        state.merge_until(0.7)


@pytest.mark.parametrize("scoring", ["mean", "quantile-50-histogram"])
def test_large_volume_threads_and_iteration_agree(rng, scoring):
    """>= 2^20 voxels: the segmentations written in one parallel pass (and the output pages first
    touched by a second thread while merging) equal one thread and the one-at-a-time path."""
    shape = (16, 256, 256)
    blocks = np.arange(4 * 64 * 64, dtype=np.uint64).reshape(4, 64, 64) + np.uint64(1)
    fragments = np.repeat(np.repeat(np.repeat(blocks, 4, 0), 4, 1), 4, 2)
    fragments[:, :, :8] = 0  # some background
    affinities = rng.random((3,) + shape).astype(np.float32)
    thresholds = [0.45, 0.48, 0.5, 0.51] if scoring == "mean" else [0.02, 0.04, 0.06, 0.1]
    one = agglomerate(affinities, thresholds, fragments=fragments, scoring=scoring, threads=1)
    two = agglomerate(affinities, thresholds, fragments=fragments, scoring=scoring, threads=2)
    iterated = list(iter_agglomerate(affinities, thresholds, fragments=fragments, scoring=scoring, threads=2))
    sparse = agglomerate(
        affinities,
        thresholds,
        scoring=scoring,
        threads=2,
        fragments=np.where(fragments > 0, fragments + np.uint64(2**50), 0).astype(np.uint64),
    )
    counts = []
    for a, b, c, d in zip(one, two, iterated, sparse):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(np.where(a > 0, a + np.uint64(2**50), 0), d)
        counts.append(len(np.unique(a)))
    assert counts[0] > counts[-1] > 2  # the thresholds merge some but not all


@pytest.mark.parametrize("scoring", ["mean", "min", "quantile-50", "quantile-50-histogram"])
def test_slabs_of_large_fragments_match_the_reference_on_any_thread_count(rng, scoring):
    """Large fragments (one run of labels per 16 voxels): the region graph is built on 3 slabs of
    8 planes, on up to 3 threads, and joined. Same result on 1, 2 and 3 threads and when iterating,
    and the reference's partitions."""
    blocks = rng.permutation(np.arange(1, 2 * 6 * 6 + 1, dtype=np.uint64)).reshape(2, 6, 6)
    fragments = np.repeat(np.repeat(np.repeat(blocks, 12, 0), 16, 1), 16, 2)  # (24, 96, 96)
    fragments[:, :, :3] = 0  # some background
    affinities = rng.random((3,) + fragments.shape).astype(np.float32)
    if scoring == "min":
        thresholds = [0.99999, 0.999995]
    else:
        thresholds = [0.49, 0.5, 0.51] if scoring == "mean" else [0.1, 0.3, 0.5]
    init = False  # all boundary values kept for the quantiles: the slabs' value lists are joined
    one = agglomerate(affinities, thresholds, fragments=fragments, scoring=scoring, init_with_max=init, threads=1)
    for threads in (2, 3):
        for a, b in zip(
            one,
            agglomerate(
                affinities, thresholds, fragments=fragments, scoring=scoring, init_with_max=init, threads=threads
            ),
        ):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(
        one,
        iter_agglomerate(affinities, thresholds, fragments=fragments, scoring=scoring, init_with_max=init, threads=2),
    ):
        np.testing.assert_array_equal(a, b)
    counts = [len(np.unique(seg)) for seg in one]
    assert counts[0] > counts[-1] > 2 or scoring == "min"
    if scoring.endswith("histogram"):
        return  # 256 bins: exact ties, which implementations may break differently
    expected = agglomerate_ref(
        affinities, thresholds, fragments=fragments, scoring=scoring, init_with_max=init, strict=True
    )
    for seg, ref in zip(one, expected):
        assert_same_partition(seg, ref)


def test_binding_checks_the_outputs():
    from pytc.kernels._agglomerate import _ext

    aff = np.ones((3, 2, 3, 4), dtype=np.float32)
    frag = np.ones((2, 3, 4), dtype=np.uint64)
    out = np.empty((2, 3, 4), np.uint64)
    with pytest.raises(ValueError, match="one `out` array per threshold"):
        _ext.agglomerate_into(frag, aff, 0, 50, True, [0.5, 0.7], [out], 1)
    with pytest.raises(ValueError, match="`out` must be uint64"):
        _ext.agglomerate_into(frag, aff, 0, 50, True, [0.5], [out.astype(np.int64)], 1)
    with pytest.raises(ValueError, match="`out` must be C-contiguous"):
        _ext.agglomerate_into(frag, aff, 0, 50, True, [0.5], [np.empty((4, 3, 2), np.uint64).T], 1)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.int32, np.int64])
def test_fragment_dtypes_and_layouts(rng, dtype):
    affinities, thresholds, fragments = random_case(rng, max_side=6)
    expected = agglomerate(affinities, thresholds, fragments=fragments)
    for frag in (fragments.astype(dtype), np.asfortranarray(fragments.astype(dtype))):
        for a, b in zip(agglomerate(affinities, thresholds, fragments=frag), expected):
            np.testing.assert_array_equal(a, b)
    # uint8 affinities are scaled by 1/255, like float32 k/255
    aff8 = (affinities * 255).round().astype(np.uint8)
    for a, b in zip(
        agglomerate(aff8, thresholds, fragments=fragments),
        agglomerate(aff8.astype(np.float32) / np.float32(255), thresholds, fragments=fragments),
    ):
        np.testing.assert_array_equal(a, b)


def test_extra_channels_are_ignored(rng):
    affinities, thresholds, fragments = random_case(rng)
    more = np.concatenate([affinities, rng.random((4,) + affinities.shape[1:]).astype(np.float32)])
    for a, b in zip(
        agglomerate(more, thresholds, fragments=fragments), agglomerate(affinities, thresholds, fragments=fragments)
    ):
        np.testing.assert_array_equal(a, b)


def test_edge_cases():
    for shape in [(0, 4, 4), (1, 1, 1), (3, 0, 2)]:
        aff = np.ones((3,) + shape, dtype=np.float32)
        frag = np.ones(shape, dtype=np.uint64)
        result = agglomerate(aff, [0.5, 1.0], fragments=frag)
        assert [s.shape for s in result] == [shape, shape] and all(s.dtype == np.uint64 for s in result)
        np.testing.assert_array_equal(result[1], frag)
    # all background, and a single fragment
    aff = np.full((3, 2, 3, 4), 0.9, dtype=np.float32)
    for frag in (np.zeros((2, 3, 4), np.uint32), np.full((2, 3, 4), 5, np.uint32)):
        (seg,) = agglomerate(aff, [1.0], fragments=frag)
        np.testing.assert_array_equal(seg, frag)


def test_inputs_not_modified(rng):
    affinities, thresholds, fragments = random_case(rng)
    aff_copy, frag_copy, th_copy = affinities.copy(), fragments.copy(), list(thresholds)
    affinities.flags.writeable = False
    fragments.flags.writeable = False
    agglomerate(affinities, thresholds, fragments=fragments, scoring="quantile-50")
    np.testing.assert_array_equal(affinities, aff_copy)
    np.testing.assert_array_equal(fragments, frag_copy)
    assert thresholds == th_copy


def test_bad_input():
    aff = np.ones((3, 2, 3, 4), dtype=np.float32)
    frag = np.ones((2, 3, 4), dtype=np.uint64)
    with pytest.raises(ValueError, match="`fragments` must have the shape"):
        agglomerate(aff, [0.5], fragments=frag[:1])
    with pytest.raises(ValueError, match="`thresholds` must be ascending"):
        agglomerate(aff, [0.5, 0.2], fragments=frag)
    with pytest.raises(ValueError, match="`thresholds` must be finite"):
        agglomerate(aff, [0.5, np.nan], fragments=frag)
    with pytest.raises(ValueError, match="`thresholds` must be finite"):
        agglomerate(aff, [0.5, np.inf], fragments=frag)
    with pytest.raises(TypeError, match="`thresholds` must be a sequence"):
        agglomerate(aff, 0.5, fragments=frag)
    with pytest.raises(ValueError, match=r"`scoring` must be one of 'mean', 'max', 'min', 'quantile-<q>'"):
        agglomerate(aff, [0.5], fragments=frag, scoring="median")
    with pytest.raises(ValueError, match="quantile must be in 0..100"):
        agglomerate(aff, [0.5], fragments=frag, scoring="quantile-101")
    with pytest.raises(TypeError, match="`scoring` must be a string"):
        agglomerate(aff, [0.5], fragments=frag, scoring=3)
    bad = aff.copy()
    bad[1, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"`affinities` must be probabilities in \[0, 1\]; got nan"):
        agglomerate(bad, [0.5], fragments=frag)
    with pytest.raises(ValueError, match="`affinities` must be 4D"):
        agglomerate(aff[0], [0.5], fragments=frag)
    with pytest.raises(TypeError, match="`fragments` must be an integer label array"):
        agglomerate(aff, [0.5], fragments=frag.astype(np.float32))
    with pytest.raises(ValueError, match="`fragments` must be >= 0"):
        agglomerate(aff, [0.5], fragments=-frag.astype(np.int32))
    with pytest.raises(ValueError, match="`low` must be smaller than `high`"):
        agglomerate(aff, [0.5], low=0.9, high=0.1)
    with pytest.raises(ValueError, match="`threads` must be a positive int"):
        agglomerate(aff, [0.5], fragments=frag, threads=0)
    # checked on the call, not when iteration starts
    with pytest.raises(ValueError, match="`thresholds` must be ascending"):
        iter_agglomerate(aff, [0.5, 0.2], fragments=frag)


def test_without_fragments_runs_the_watershed(rng):
    from pytc.kernels import watershed

    affinities = rng.random((3, 8, 9, 10)).astype(np.float32)
    fragments = watershed(affinities, low=0.0001, high=0.9999)
    for a, b in zip(agglomerate(affinities, [0.3, 0.7]), agglomerate(affinities, [0.3, 0.7], fragments=fragments)):
        np.testing.assert_array_equal(a, b)


def check_real(affinities, fragments, gt, thresholds):
    base = adapted_rand(gt, fragments)
    scores = {}
    for scoring in ("mean", "quantile-50-histogram"):
        result = agglomerate(affinities, thresholds, fragments=fragments, scoring=scoring)
        errors = [adapted_rand(gt, seg) for seg in result]
        assert min(errors) < base, (scoring, errors, base)
        scores[scoring] = errors
    return base, scores


@pytest.mark.real_data
def test_real_gala_fibsem_beats_its_fragments():
    p = read_gala("train-p1")
    fragments = read_gala("train-ws").astype(np.uint64)
    gt = read_gala("train-gt")
    affinities = boundary_to_affinity(p)
    check_real(affinities, fragments, gt, [0.1, 0.3, 0.5, 0.7])
    # same result as waterz (uint8-free float input: ties are rare here)
    thresholds = [0.2, 0.5]
    for ours, theirs in zip(
        agglomerate(affinities, thresholds, fragments=fragments),
        waterz_segmentations(affinities, thresholds, fragments, WATERZ_MEAN),
    ):
        assert_same_partition(ours, theirs)


@pytest.mark.real_data
def test_real_gala_snemi_beats_its_fragments():
    import tifffile

    folder = require_data("gala_snemi_mini_labels_only")
    fragments = tifffile.imread(folder / "train-fragments.tif").astype(np.uint64)
    p = tifffile.imread(folder / "train-probabilities.tif").astype(np.float32) / np.float32(255)
    gt = tifffile.imread(folder / "train-labels.tif")
    check_real(boundary_to_affinity(p), fragments, gt, [0.2, 0.4, 0.6, 0.8])
