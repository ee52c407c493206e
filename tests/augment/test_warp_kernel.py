import numpy as np
import pytest

from pytc.augment._reference.warp import affine_slices_ref
from pytc.augment._warp import affine_slices, rotation_matrix


@pytest.mark.parametrize("order", [0, 1])
def test_affine_slices_matches_map_coordinates(order):
    rng = np.random.default_rng(0)
    src = rng.random((3, 17, 23)).astype(np.float32) if order else rng.integers(0, 9, (3, 17, 23)).astype(np.uint32)
    matrices = np.stack(
        [rotation_matrix(a, (8, 11), (8.3, 10.6), scale=s) for a, s in [(0.3, 1), (2.0, 1.3), (-1, 0.8)]]
    )
    out = np.empty((3, 15, 19), src.dtype)
    affine_slices(src, out, matrices, order)
    ref = affine_slices_ref(src, matrices, order, out.shape)
    if order == 0:
        np.testing.assert_array_equal(out, ref)
    else:
        np.testing.assert_allclose(out, ref, atol=1e-5)
