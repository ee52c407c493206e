"""The merge history of agglomeration: compiled against the reference, replays, real data."""

import numpy as np
import pytest

from pytc.decode import boundary_to_affinity
from pytc.kernels import (
    agglomerate,
    agglomerate_history,
    agglomerate_history_ref,
    merge_representatives,
    merge_sides,
    replay_merges,
    watershed,
)
from pytc.kernels._reference.agglomerate import TieError
from pytc.testing import read_gala

SCORINGS = ["mean", "max", "min", "quantile-50", "quantile-75-histogram"]


def fragment_labels(fragments):
    labels = np.unique(fragments)
    return labels[labels != 0]


def unordered_sides(merges, fragments):
    """Each merge's two sides as an unordered pair of fragment sets (representatives differ by implementation)."""
    return [frozenset(pair) for pair in merge_sides(merges, fragment_labels(fragments))]


def assert_same_history(result, expected_merges, expected_scores):
    assert unordered_sides(result.merges, result.fragments) == unordered_sides(expected_merges, result.fragments)
    np.testing.assert_allclose(result.scores, expected_scores, rtol=0, atol=2e-7)


def check_replay(result):
    np.testing.assert_array_equal(replay_merges(result.fragments, result.merges), result.segmentation)
    # one merge per fragment that lost its own region
    n_regions = len(fragment_labels(result.segmentation))
    assert len(result.merges) == len(fragment_labels(result.fragments)) - n_regions


@pytest.mark.parametrize("scoring", SCORINGS)
def test_history_equals_the_reference_on_random_inputs(rng, scoring):
    compared = 0
    for _ in range(30):
        shape = tuple(int(s) for s in rng.integers(2, 7, size=3))
        fragments = rng.integers(0, 14, size=shape).astype(np.uint64)
        affinities = rng.random((3,) + shape).astype(np.float32)
        threshold = float(rng.uniform(0.3, 1.0))
        try:
            seg, merges, scores = agglomerate_history_ref(
                affinities, threshold, fragments=fragments, scoring=scoring, strict=True
            )
        except TieError:
            continue
        result = agglomerate_history(affinities, threshold, fragments=fragments, scoring=scoring)
        assert result.merges.dtype == np.uint64 and result.merges.shape == (len(result.scores), 2)
        assert result.scores.dtype == np.float32
        assert np.all(result.scores < np.float32(threshold))
        assert_same_history(result, merges, scores)
        check_replay(result)
        np.testing.assert_array_equal(replay_merges(fragments, merges), seg)
        compared += 1
    assert compared >= 4


def test_history_segmentation_is_agglomerates(rng):
    fragments = rng.integers(0, 40, size=(6, 9, 11)).astype(np.uint32)
    affinities = rng.random((3, 6, 9, 11)).astype(np.float32)
    for threshold in (0.2, 0.5, 0.9):
        result = agglomerate_history(affinities, threshold, fragments=fragments)
        (expected,) = agglomerate(affinities, [threshold], fragments=fragments)
        np.testing.assert_array_equal(result.segmentation, expected)  # the same labels, not just the same partition
        np.testing.assert_array_equal(result.fragments, fragments)  # the fragments given, returned
        check_replay(result)


def test_partial_replays_and_representatives():
    merges = np.array([[2, 1], [3, 4], [3, 2]], dtype=np.uint64)
    fragments = np.array([[[1, 2, 3, 4, 0, 5]]], dtype=np.uint64)
    assert replay_merges(fragments, merges, 0).ravel().tolist() == [1, 2, 3, 4, 0, 5]
    assert replay_merges(fragments, merges, 1).ravel().tolist() == [2, 2, 3, 4, 0, 5]
    assert replay_merges(fragments, merges, 2).ravel().tolist() == [2, 2, 3, 3, 0, 5]
    assert replay_merges(fragments, merges).ravel().tolist() == [3, 3, 3, 3, 0, 5]
    assert merge_representatives(merges, 2) == {1: 2, 2: 2, 3: 3, 4: 3}
    assert merge_sides(merges, [1, 2, 3, 4, 5]) == [
        ({2}, {1}),
        ({3}, {4}),
        ({3, 4}, {1, 2}),
    ]
    with pytest.raises(ValueError, match="count"):
        replay_merges(fragments, merges, 4)
    with pytest.raises(ValueError, match="does not join two current regions"):
        merge_sides(np.array([[2, 1], [2, 1]]), [1, 2])
    with pytest.raises(ValueError, match="merges"):
        replay_merges(fragments, np.zeros((3, 3), np.uint64))


def test_no_merges_and_empty_volume():
    fragments = np.array([[[1, 2]]], dtype=np.uint64)
    aff = np.zeros((3, 1, 1, 2), dtype=np.float32)  # score 1: never below the threshold
    result = agglomerate_history(aff, 0.5, fragments=fragments)
    assert result.merges.shape == (0, 2) and result.scores.shape == (0,)
    np.testing.assert_array_equal(result.segmentation, fragments)
    empty = agglomerate_history(np.zeros((3, 0, 2, 2), np.float32), 0.5, fragments=np.zeros((0, 2, 2), np.uint64))
    assert empty.segmentation.shape == (0, 2, 2) and empty.merges.shape == (0, 2)


def test_bad_threshold(rng):
    aff = rng.random((3, 2, 2, 2)).astype(np.float32)
    fragments = np.ones((2, 2, 2), np.uint64)
    with pytest.raises(TypeError, match="agglomerate_history: `threshold` must be a number"):
        agglomerate_history(aff, "high", fragments=fragments)
    with pytest.raises(ValueError, match="agglomerate_history: `thresholds` must be finite"):
        agglomerate_history(aff, float("nan"), fragments=fragments)


def test_inputs_not_modified(rng):
    fragments = rng.integers(0, 9, size=(4, 5, 6)).astype(np.uint64)
    aff = rng.random((3, 4, 5, 6)).astype(np.float32)
    before = fragments.copy(), aff.copy()
    agglomerate_history(aff, 0.7, fragments=fragments)
    np.testing.assert_array_equal(fragments, before[0])
    np.testing.assert_array_equal(aff, before[1])


def gala_case():
    """Real gala boundary probabilities as affinities, with the watershed fragments of those affinities."""
    affinities = boundary_to_affinity(read_gala("train-p1"))
    return affinities, watershed(affinities)


@pytest.mark.real_data
@pytest.mark.parametrize("scoring", ["mean", "quantile-50-histogram"])
def test_real_gala_history_replays_to_the_segmentation(scoring):
    affinities, fragments = gala_case()
    for threshold in (0.3, 0.6):
        result = agglomerate_history(affinities, threshold, fragments=fragments, scoring=scoring)
        assert len(result.merges) > 200
        check_replay(result)
        (expected,) = agglomerate(affinities, [threshold], fragments=fragments, scoring=scoring)
        np.testing.assert_array_equal(result.segmentation, expected)


@pytest.mark.real_data
def test_real_gala_history_equals_the_reference():
    affinities, fragments = gala_case()
    # a crop (the reference searches all edges for each merge)
    crop = (slice(0, 20), slice(0, 64), slice(0, 100))
    fragments = np.ascontiguousarray(fragments[crop])
    affinities = np.ascontiguousarray(affinities[(slice(None),) + crop])
    seg, merges, scores = agglomerate_history_ref(affinities, 0.7, fragments=fragments, strict=True)
    result = agglomerate_history(affinities, 0.7, fragments=fragments)
    assert len(merges) > 40
    assert_same_history(result, merges, scores)
    check_replay(result)
    np.testing.assert_array_equal(replay_merges(fragments, merges), seg)


def test_without_fragments_the_watersheds_are_returned(rng):
    affinities = rng.random((3, 5, 8, 8)).astype(np.float32)
    result = agglomerate_history(affinities, 0.6, low=0.2, high=0.8)
    np.testing.assert_array_equal(result.fragments, watershed(affinities, low=0.2, high=0.8))
    check_replay(result)
