"""agglomerate / iter_agglomerate against agglomerate_ref: the same partitions (the docstring promises waterz's
result up to relabelling and the order of exactly tied merges; the reference says which inputs have such ties),
and the rejection of affinities outside [0, 1]."""

import itertools

import numpy as np
import pytest
from fuzz_strategies import (
    LABEL_DTYPES,
    affinity_arrays,
    bad_affinity_arrays,
    label_arrays,
    large_shapes,
    same_partition,
    shapes,
    size_event,
)
from fuzz_strategies import threads as thread_counts
from hypothesis import event, given, note
from hypothesis import strategies as st

from pytc.kernels import agglomerate, agglomerate_ref, iter_agglomerate, watershed
from pytc.kernels._reference.agglomerate import TieError

# thresholds beyond float32's range become +-inf (as in the reference), with numpy's overflow warning
pytestmark = [pytest.mark.fuzz, pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")]

MAX_SIDE = 8  # the reference searches all edges for each merge
SCORINGS = (
    "mean",
    "max",
    "min",
    "quantile-0",
    "quantile-50",
    "quantile-75",
    "quantile-100",
    "quantile-0-histogram",
    "quantile-25-histogram",
    "quantile-50-histogram",
    "quantile-99-histogram",
    "quantile-100-histogram",
    "OneMinus<QuantileAffinity<RegionGraphType, 50, ScoreValue, false>>",
)
threshold_values = st.one_of(
    st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0, 1.1, -1.0, 1e39]),
    st.floats(-0.5, 1.5),
    st.floats(allow_nan=False, allow_infinity=False),
)


@st.composite
def cases(draw, volume_shapes=shapes(3, MAX_SIDE)):
    shape = draw(volume_shapes)
    fragments = draw(label_arrays(shape, LABEL_DTYPES, nonnegative=True, name="fragments"))
    aff = draw(affinity_arrays((draw(st.sampled_from([3, 4])),) + shape))
    thresholds = sorted(draw(st.lists(threshold_values, max_size=4)))
    return dict(
        affinities=aff,
        thresholds=thresholds,
        fragments=fragments,
        scoring=draw(st.sampled_from(SCORINGS)),
        init_with_max=draw(st.booleans()),
    )


def assert_coarsens(seg, fragments):
    """Background stays, every fragment lies in one region, and regions carry one of their fragments' labels."""
    fragments = np.asarray(fragments).astype(np.uint64)
    np.testing.assert_array_equal(seg == 0, fragments == 0)
    if seg.size:
        pairs = np.unique(np.stack([fragments.ravel(), seg.ravel()]), axis=1)
        assert len(np.unique(pairs[0])) == pairs.shape[1]  # a fragment maps to one region
        assert set(np.unique(seg).tolist()) <= set(np.unique(fragments).tolist())


@given(case=cases(), threads=thread_counts)
def test_agglomerate_matches_reference(case, threads):
    aff, fragments = case["affinities"], case["fragments"]
    before = aff.copy(), fragments.copy()
    kwargs = dict(fragments=fragments, scoring=case["scoring"], init_with_max=case["init_with_max"])
    size_event(fragments)
    result = agglomerate(aff, case["thresholds"], threads=threads, **kwargs)
    iterated = list(iter_agglomerate(aff, case["thresholds"], threads=threads, **kwargs))
    assert len(result) == len(iterated) == len(case["thresholds"])
    for seg, again in zip(result, iterated):
        assert seg.dtype == np.uint64 and seg.shape == fragments.shape
        np.testing.assert_array_equal(seg, again)
        assert_coarsens(seg, fragments)
    for finer, coarser in itertools.pairwise(result):  # ascending thresholds only merge
        assert_coarsens(coarser, finer)
    np.testing.assert_array_equal(aff, before[0])
    np.testing.assert_array_equal(fragments, before[1])
    # the reference reads float32 affinities: uint8 is scaled by 1/255 as agglomerate does
    ref_aff = aff.astype(np.float32) / np.float32(255) if aff.dtype == np.uint8 else aff
    try:
        expected = agglomerate_ref(ref_aff, case["thresholds"], strict=True, **kwargs)
    except TieError as tie:
        event("exact tie between merges: compared the invariants only")
        note(str(tie))
        return
    event("compared with the reference")
    for seg, ref in zip(result, expected):
        assert same_partition(seg, ref)


@given(case=cases(large_shapes(3)))
def test_agglomerate_does_not_depend_on_threads(case):
    """Volumes above the parallel cutoff: the region graph built on z slabs in parallel and joined."""
    kwargs = dict(fragments=case["fragments"], scoring=case["scoring"], init_with_max=case["init_with_max"])
    one = agglomerate(case["affinities"], case["thresholds"], threads=1, **kwargs)
    for threads in (2, 3):
        for a, b in zip(agglomerate(case["affinities"], case["thresholds"], threads=threads, **kwargs), one):
            np.testing.assert_array_equal(a, b)


low_high_pairs = st.floats(0, 0.99).flatmap(lambda low: st.tuples(st.just(low), st.floats(low, 1, exclude_min=True)))


@given(
    aff=affinity_arrays(st.tuples(st.just(3), *[st.integers(0, MAX_SIDE)] * 3)),
    thresholds=st.lists(threshold_values, max_size=3).map(sorted),
    low_high=low_high_pairs,
)
def test_agglomerate_without_fragments_starts_from_the_watershed(aff, thresholds, low_high):
    low, high = low_high
    fragments = watershed(aff, low=low, high=high)
    for a, b in zip(
        agglomerate(aff, thresholds, low=low, high=high), agglomerate(aff, thresholds, fragments=fragments)
    ):
        np.testing.assert_array_equal(a, b)


@given(
    aff=bad_affinity_arrays(st.tuples(st.sampled_from([3, 4]), *[st.integers(1, MAX_SIDE)] * 3)),
    with_fragments=st.booleans(),
)
def test_agglomerate_rejects_values_outside_0_1(aff, with_fragments):
    fragments = np.ones(aff.shape[1:], np.uint64) if with_fragments else None
    with pytest.raises(ValueError, match="`affinities`"):
        agglomerate(aff, [0.5], fragments=fragments)
    with pytest.raises(ValueError, match="`affinities`"):
        iter_agglomerate(aff, [0.5], fragments=fragments)
