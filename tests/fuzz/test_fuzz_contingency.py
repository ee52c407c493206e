"""contingency_table against contingency_table_ref (equal tables), and the metrics adapted_rand, voi and evaluate
against adapted_rand_ref and voi_ref (within the tolerance of tests/metrics: 1e-9 absolute), on any rank, any
pair of label dtypes (byte order included), any layouts and any ignore labels, in range of the dtype or not."""

import numpy as np
import pytest
from fuzz_strategies import LABEL_DTYPES, label_arrays, large_shapes, shapes, size_event, threads
from hypothesis import given, note
from hypothesis import strategies as st

from pytc.kernels import adapted_rand_ref, contingency_table, contingency_table_ref, voi_ref
from pytc.metrics import adapted_rand, evaluate, voi

pytestmark = pytest.mark.fuzz

MAX_SIDE = 10
TOL = dict(rtol=0, atol=1e-9)
DTYPES = LABEL_DTYPES + (np.dtype(">u2"), np.dtype(">i4"), np.dtype(">u8"))  # non-native byte order too


@st.composite
def ignore_labels(draw, labels):
    """None, one label or a list: labels of the volume, extremes of any dtype (also out of `labels`' range)."""
    present = np.unique(labels).tolist() if labels.size else [0]
    value = st.one_of(
        st.sampled_from(present),
        st.sampled_from([0, 1, -1, 127, -128, 255, 300, 2**31 - 1, 2**32 - 1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1]),
    )
    return draw(st.one_of(st.none(), value, st.lists(value, max_size=3), st.lists(value, max_size=3).map(tuple)))


@st.composite
def pairs(draw, large=False):
    ndim = draw(st.sampled_from((2, 3, 1, 0, 2, 3, 2, 3)))  # any rank; 0-d and 1D less often
    if large:
        ndim = max(ndim, 1)
    shape = draw(large_shapes(ndim) if large else shapes(ndim, MAX_SIDE))
    seg = draw(label_arrays(shape, DTYPES, name="seg"))
    gt = draw(label_arrays(shape, DTYPES, name="gt"))
    return seg, gt, draw(ignore_labels(seg)), draw(ignore_labels(gt))


@given(case=st.one_of(pairs(), pairs(large=True)), threads=threads)
def test_contingency_table_matches_reference(case, threads):
    seg, gt, ignore_seg, ignore_gt = case
    size_event(seg)
    before = seg.copy(), gt.copy()
    table = contingency_table(seg, gt, ignore_seg=ignore_seg, ignore_gt=ignore_gt, threads=threads)
    expected = contingency_table_ref(
        seg, gt, ignore_seg=() if ignore_seg is None else ignore_seg, ignore_gt=() if ignore_gt is None else ignore_gt
    )
    for got, want, dtype in zip(table, expected, (np.uint64, np.uint64, np.int64)):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(seg, before[0])
    np.testing.assert_array_equal(gt, before[1])


@given(case=pairs())
def test_metrics_match_references(case):
    seg, gt, ignore_seg, ignore_gt = case
    size_event(seg)
    ignore_seg = () if ignore_seg is None else ignore_seg
    ignore_gt = (0,) if ignore_gt is None else ignore_gt  # the metrics' default
    kwargs = dict(ignore_seg=ignore_seg, ignore_gt=ignore_gt)
    rand = adapted_rand(seg, gt, return_all=True, **kwargs)
    split_merge = voi(seg, gt, **kwargs)
    ref_rand = adapted_rand_ref(seg, gt, return_all=True, **kwargs)
    ref_voi = voi_ref(seg, gt, **kwargs)
    note(f"adapted_rand {rand}, reference {ref_rand}; voi {split_merge}, reference {ref_voi}")
    np.testing.assert_allclose(rand, ref_rand, **TOL)
    np.testing.assert_allclose(split_merge, ref_voi, **TOL)
    assert 0 <= rand[0] <= 1 and 0 <= rand[1] <= 1 and 0 <= rand[2] <= 1
    assert min(split_merge) >= 0
    assert adapted_rand(seg, gt, **kwargs) == rand[0]
    if len(contingency_table(seg, gt, **kwargs)[2]) == 0:  # nothing counted: evaluate refuses to score
        with pytest.raises(ValueError, match="evaluate: nothing to score"):
            evaluate(seg, gt, **kwargs)
        assert rand == (0.0, 1.0, 1.0) and split_merge == (0.0, 0.0)
        return
    scores = evaluate(seg, gt, **kwargs)
    assert scores == {
        "adapted_rand_error": rand[0],
        "rand_precision": rand[1],
        "rand_recall": rand[2],
        "voi_split": split_merge[0],
        "voi_merge": split_merge[1],
        "voi": split_merge[0] + split_merge[1],
    }
