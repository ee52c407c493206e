"""Inputs on which the fuzz tests found bugs, each as its minimal example, kept as regression tests.

A new finding goes here as ``pytest.mark.xfail(strict=True, reason=...)`` while the strategy of its property
leaves such inputs out (so the property stays green and the bug is not lost); once it is fixed the xfail turns
into a failure (XPASS): drop the mark and widen the strategy again.
"""

import numpy as np
import pytest

from pytc.kernels import agglomerate, agglomerate_ref, mutex_watershed, seg_to_affinity, watershed

pytestmark = pytest.mark.fuzz

NEAREST_3D = [(-1, 0, 0), (0, -1, 0), (0, 0, -1)]


@pytest.mark.parametrize("kernel", ["watershed", "mutex_watershed"])
def test_uint8_affinities_in_fortran_order(kernel):
    """Was: as_affinities scaled uint8 with astype, which keeps the input's memory order, so Fortran-order uint8
    reached the compiled kernels as non-C-contiguous float32 (watershed: TypeError '`affinities` must be a
    C-contiguous float32 array; got float32'; mutex_watershed: ValueError '`aff` must be C-contiguous')."""
    aff = np.asfortranarray(np.full((3, 1, 1, 2), 255, np.uint8))
    run = {"watershed": lambda a: watershed(a, dust=0), "mutex_watershed": lambda a: mutex_watershed(a, NEAREST_3D)}
    np.testing.assert_array_equal(run[kernel](aff), run[kernel](np.ascontiguousarray(aff)))


def test_histogram_quantile_100():
    """Was: 'quantile-100-histogram' found no bin reaching the pivot q*n/100 + 1 = n + 1 and took bin 256 (value
    256.5/256, as waterz does), so every edge scored below 0 and all touching fragments merged at any threshold,
    0 included; agglomerate_ref raised AssertionError('empty histogram') on the same input."""
    aff = np.zeros((3, 1, 1, 2), np.float32)  # the weakest boundary: nothing merges at threshold 0
    fragments = np.array([[[1, 2]]], np.uint64)
    (seg,) = agglomerate(aff, [0.0], fragments=fragments, scoring="quantile-100-histogram")
    np.testing.assert_array_equal(seg, fragments)
    (ref,) = agglomerate_ref(aff, [0.0], fragments=fragments, scoring="quantile-100-histogram")
    np.testing.assert_array_equal(ref, fragments)


def test_seg_to_affinity_unknown_dtype_name_message():
    """Was: numpy's TypeError "data type 'foo' not understood", naming neither the function nor `dtype`."""
    with pytest.raises(TypeError, match=r"seg_to_affinity: `dtype` must be float32 or uint8; got 'foo'"):
        seg_to_affinity(np.zeros((2, 2), np.uint8), dtype="foo")
