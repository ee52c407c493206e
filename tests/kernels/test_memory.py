import numpy as np
import pytest

from pytc.kernels._memory import HUGE_PAGE, empty


@pytest.mark.parametrize("dtype", [np.uint8, np.uint64, np.float32])
def test_large_arrays_start_on_a_huge_page(dtype):
    shape = (9, 300, 500)
    out = empty(shape, dtype)
    assert out.shape == shape and out.dtype == dtype
    assert out.flags.c_contiguous and out.flags.writeable
    if out.nbytes >= 4 << 20:
        assert out.ctypes.data % HUGE_PAGE == 0
    out[...] = 1  # the whole view is usable
    assert int(out.sum()) == out.size


def test_small_and_empty_arrays_are_plain():
    for shape in [(0, 4, 4), (1, 1, 1), (10, 10)]:
        out = empty(shape, np.uint64)
        assert out.shape == shape and out.dtype == np.uint64 and out.flags.c_contiguous
