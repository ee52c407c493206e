"""watershed against watershed_ref (equal fragments, not only the same partition: the docstring says "equal
to" the reference), and the rejection of affinities outside [0, 1]."""

import numpy as np
import pytest
from fuzz_strategies import (
    affinity_arrays,
    assert_consecutive_ids,
    bad_affinity_arrays,
    large_shapes,
    masks,
    shapes,
    size_event,
    threads,
)
from hypothesis import given
from hypothesis import strategies as st

from pytc.kernels import watershed, watershed_ref

pytestmark = pytest.mark.fuzz

MAX_SIDE = 9  # the reference loops over voxels in Python

# values the affinities take (levels, extremes) as well as arbitrary ones: ties with the thresholds
thresholds = st.one_of(
    st.sampled_from([0.0, 0.0001, 0.1, 0.2, 0.25, 0.5, 0.75, 0.9999, 1.0]),
    st.floats(0, 1, width=32).map(float),
    st.floats(0, 1),
)


@st.composite
def cases(draw, volume_shapes=shapes(3, MAX_SIDE)):
    shape = draw(volume_shapes)
    channels = draw(st.sampled_from([3, 4]))  # a fourth channel is ignored
    aff = draw(affinity_arrays((channels,) + shape))
    low, high = sorted([draw(thresholds), draw(thresholds)])
    counts = st.one_of(st.integers(0, 30), st.sampled_from([2**31 - 1, 2**32, 2**63 - 1]))  # voxels
    kwargs = dict(
        low=low,
        high=high,
        size_threshold=draw(counts),
        dust=draw(st.one_of(st.integers(0, 10), counts)),
        weight_threshold=draw(st.one_of(st.none(), thresholds)),
        mask=draw(masks(shape)),
    )
    return aff, kwargs


@given(case=cases(), threads=threads)
def test_watershed_matches_reference(case, threads):
    aff, kwargs = case
    size_event(aff[0])
    before = aff.copy()
    fragments = watershed(aff, threads=threads, **kwargs)
    expected = watershed_ref(aff, **kwargs)
    assert fragments.dtype == np.uint64 and fragments.shape == aff.shape[1:]
    np.testing.assert_array_equal(fragments, expected)
    assert_consecutive_ids(fragments)
    if kwargs["mask"] is not None:
        assert not fragments[np.asarray(kwargs["mask"]) == 0].any()
    np.testing.assert_array_equal(aff, before)


@given(case=cases(large_shapes(3)))
def test_watershed_does_not_depend_on_threads(case):
    """Volumes above the parallel cutoff (2**15 voxels): basins labelled on z slabs in parallel and joined."""
    aff, kwargs = case
    one = watershed(aff, threads=1, **kwargs)
    for count in (2, 3):
        np.testing.assert_array_equal(watershed(aff, threads=count, **kwargs), one)
    assert_consecutive_ids(one)


@given(
    aff=bad_affinity_arrays(st.tuples(st.sampled_from([3, 4]), *[st.integers(1, MAX_SIDE)] * 3)), use_mask=st.booleans()
)
def test_watershed_rejects_values_outside_0_1(aff, use_mask):
    mask = np.ones(aff.shape[1:], bool) if use_mask else None
    with pytest.raises(ValueError, match="`affinities`"):
        watershed(aff, mask=mask)
    with pytest.raises(ValueError, match="`affinities`"):  # the reference validates with the same helper
        watershed_ref(aff, mask=mask)
