"""seg_to_affinity against seg_to_affinity_ref: every label dtype and layout, 2D and 3D, any offsets."""

import numpy as np
import pytest
from fuzz_strategies import LABEL_DTYPES, label_arrays, large_shapes, shapes, size_event, threads
from hypothesis import given, note
from hypothesis import strategies as st

from pytc.kernels import seg_to_affinity, seg_to_affinity_ref

pytestmark = pytest.mark.fuzz

MAX_SIDE = 12


@st.composite
def offset_lists(draw, ndim):
    """None (the default) or up to 6 offsets: nearest neighbours, long range, zero, beyond the volume, huge."""
    if draw(st.integers(0, 5)) == 0:
        return None
    component = st.one_of(st.integers(-3, 3), st.integers(-MAX_SIDE - 2, MAX_SIDE + 2), st.integers(-(2**62), 2**62))
    return draw(st.lists(st.tuples(*[component] * ndim), max_size=6))


@st.composite
def cases(draw):
    ndim = draw(st.sampled_from([2, 3]))
    seg = draw(label_arrays(shapes(ndim, MAX_SIDE), LABEL_DTYPES, name="seg"))
    return dict(
        seg=seg,
        offsets=draw(offset_lists(ndim)),
        dtype=draw(st.sampled_from([np.float32, np.uint8])),
        threads=draw(threads),
        use_out=draw(st.booleans()),
    )


@given(case=cases())
def test_seg_to_affinity_matches_reference(case):
    seg, offsets, dtype = case["seg"], case["offsets"], case["dtype"]
    size_event(seg)
    before = seg.copy()
    ref, ref_valid = seg_to_affinity_ref(seg, offsets, dtype=dtype, return_mask=True)
    out = None
    if case["use_out"]:
        out = np.full(ref.shape, 7, dtype)  # stale values: every element must be written
    aff, valid = seg_to_affinity(seg, offsets, dtype=dtype, return_mask=True, threads=case["threads"], out=out)
    note(f"seg strides {seg.strides}")
    assert aff.dtype == dtype and valid.dtype == np.uint8 and aff.flags.c_contiguous
    assert out is None or aff is out
    np.testing.assert_array_equal(aff, ref)
    np.testing.assert_array_equal(valid, ref_valid)
    np.testing.assert_array_equal(seg, before)


@given(
    seg=st.sampled_from([2, 3]).flatmap(lambda ndim: label_arrays(large_shapes(ndim), name="seg")),
    data=st.data(),
    threads=threads,
)
def test_seg_to_affinity_on_large_volumes_matches_reference(seg, data, threads):
    """Volumes above the kernel's parallel cutoff, on 1 to 3 threads."""
    offsets = data.draw(offset_lists(seg.ndim))
    np.testing.assert_array_equal(seg_to_affinity(seg, offsets, threads=threads), seg_to_affinity_ref(seg, offsets))
