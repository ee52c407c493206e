"""mutex_watershed against mutex_watershed_ref: equal labels (the docstring fixes the edge order, ties included,
and the numbering), 2D and 3D, random offsets, attractive counts, strides, masks; and the rejection of
affinities outside [0, 1]."""

import numpy as np
import pytest
from fuzz_strategies import (
    affinity_arrays,
    assert_consecutive_ids,
    bad_affinity_arrays,
    large_shapes,
    masks,
    seeds,
    shapes,
    size_event,
)
from fuzz_strategies import threads as thread_counts
from hypothesis import given
from hypothesis import strategies as st

from pytc.kernels import mutex_watershed, mutex_watershed_ref

pytestmark = pytest.mark.fuzz

MAX_SIDE = {2: 12, 3: 7}  # the reference loops over edges in Python


@st.composite
def cases(draw, large=False):
    ndim = draw(st.sampled_from([2, 3]))
    shape = draw(large_shapes(ndim, 2**14, 2**16) if large else shapes(ndim, MAX_SIDE[ndim]))
    component = st.one_of(st.integers(-2, 2), st.integers(-MAX_SIDE[ndim] - 1, MAX_SIDE[ndim] + 1))
    offsets = draw(st.lists(st.tuples(*[component] * ndim), min_size=1, max_size=6))
    if draw(st.booleans()):  # the nearest neighbours first, as usual
        offsets = [tuple(-int(i == axis) for i in range(ndim)) for axis in range(ndim)] + offsets[: 6 - ndim]
    n = len(offsets)
    aff = draw(affinity_arrays((n,) + shape))
    attractive = draw(st.one_of(st.none(), st.integers(0, n))) if n >= ndim else draw(st.integers(0, n))
    kwargs = dict(attractive=attractive, mask=draw(masks(shape)))
    if draw(st.booleans()):
        kwargs["strides"] = draw(st.tuples(*[st.integers(1, 3)] * ndim))
        if draw(st.booleans()):
            kwargs.update(randomize_strides=True, seed=draw(seeds))
    return aff, offsets, kwargs


@given(case=cases(), threads=thread_counts)
def test_mutex_watershed_matches_reference(case, threads):
    aff, offsets, kwargs = case
    size_event(aff[0])
    before = aff.copy()
    labels = mutex_watershed(aff, offsets, threads=threads, **kwargs)
    expected = mutex_watershed_ref(aff, offsets, **kwargs)
    assert labels.dtype == np.uint64 and labels.shape == aff.shape[1:]
    np.testing.assert_array_equal(labels, expected)
    assert_consecutive_ids(labels)
    np.testing.assert_array_equal(aff, before)


@given(case=cases(large=True))
def test_mutex_watershed_does_not_depend_on_threads(case):
    """Large volumes: the edges built and sorted on several threads."""
    aff, offsets, kwargs = case
    one = mutex_watershed(aff, offsets, threads=1, **kwargs)
    for threads in (2, 3):
        np.testing.assert_array_equal(mutex_watershed(aff, offsets, threads=threads, **kwargs), one)
    assert_consecutive_ids(one)


@given(
    aff=bad_affinity_arrays(
        st.sampled_from([2, 3]).flatmap(
            lambda ndim: st.tuples(st.integers(1, 5), *[st.integers(1, MAX_SIDE[ndim])] * ndim)
        )
    )
)
def test_mutex_watershed_rejects_values_outside_0_1(aff):
    offsets = [tuple(-int(i == c % (aff.ndim - 1)) for i in range(aff.ndim - 1)) for c in range(aff.shape[0])]
    with pytest.raises(ValueError, match="`affinities`"):
        mutex_watershed(aff, offsets, attractive=1)
