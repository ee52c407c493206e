import numpy as np
import pytest
from scipy import ndimage

from pytc.decode import boundary_to_affinity, connected_components, relabel_sequential, remove_small_segments
from pytc.kernels import seg_to_affinity
from pytc.testing import read_gala


def boundary_to_affinity_loops(p, offsets):
    """Loop-level oracle."""
    aff = np.zeros((len(offsets),) + p.shape, np.float32)
    for c, o in enumerate(offsets):
        for v in np.ndindex(p.shape):
            u = tuple(a + b for a, b in zip(v, o))
            if all(0 <= x < n for x, n in zip(u, p.shape)):
                aff[(c,) + v] = 1 - max(p[v], p[u])
    return aff


@pytest.mark.parametrize(
    "shape, offsets",
    [((3, 4, 5), [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (1, -2, 2)]), ((6, 7), [(0, -1), (-3, 1), (2, 2)])],
)
def test_boundary_to_affinity_matches_loops(rng, shape, offsets):
    p = rng.random(shape).astype(np.float32)
    np.testing.assert_allclose(boundary_to_affinity(p, offsets), boundary_to_affinity_loops(p, offsets))
    p8 = (p * 255).astype(np.uint8)
    np.testing.assert_allclose(
        boundary_to_affinity(p8, offsets), boundary_to_affinity_loops(p8 / 255.0, offsets), atol=1e-6
    )


@pytest.mark.real_data
def test_boundary_to_affinity_on_real_probabilities():
    p = read_gala("train-p1")
    gt = read_gala("train-gt")
    aff = boundary_to_affinity(p)
    inside = seg_to_affinity(gt).astype(bool)  # edges within one neuron
    assert aff[inside].mean() > aff[~inside].mean() + 0.3  # the classifier separates them


def test_boundary_to_affinity_bad_input():
    with pytest.raises(TypeError, match="`boundary` must be probabilities.*int64"):
        boundary_to_affinity(np.zeros((3, 3), np.int64))
    with pytest.raises(ValueError, match="`boundary` must be 2D or 3D"):
        boundary_to_affinity(np.zeros(3))


def test_connected_components_splits_labels(rng):
    seg = rng.integers(0, 3, size=(6, 7, 8)).astype(np.uint16)
    cc = connected_components(seg)
    assert cc.dtype == np.uint64
    n_expected = sum(ndimage.label(seg == i)[1] for i in (1, 2))
    assert cc.max() == n_expected == len(np.unique(cc[cc > 0]))
    assert ((cc == 0) == (seg == 0)).all()
    for i in np.unique(cc[cc > 0]):  # each component lies in one label
        assert len(np.unique(seg[cc == i])) == 1
    mask = seg > 0  # a bool mask: components of its True region
    np.testing.assert_array_equal(connected_components(mask) > 0, mask)
    assert connected_components(mask).max() == ndimage.label(mask)[1]


def test_relabel_and_remove_small(rng):
    seg = np.array([[5, 5, 0, 9], [7, 7, 7, 9]], dtype=np.int32)
    before = seg.copy()
    relabeled = relabel_sequential(seg)
    assert relabeled.dtype == np.uint64 and sorted(np.unique(relabeled)) == [0, 1, 2, 3]
    assert (relabeled[seg == 7] == relabeled[1, 0]).all()
    np.testing.assert_array_equal(remove_small_segments(seg, 3), [[0, 0, 0, 0], [7, 7, 7, 0]])
    np.testing.assert_array_equal(remove_small_segments(seg, 0), seg)
    np.testing.assert_array_equal(seg, before)
    with pytest.raises(ValueError, match=r"`min_size` must be in \[0, inf\]; got -1"):
        remove_small_segments(seg, -1)
    with pytest.raises(TypeError, match="`seg` must be an integer"):
        relabel_sequential(seg.astype(float))
