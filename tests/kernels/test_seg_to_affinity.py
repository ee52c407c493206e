import numpy as np
import pytest

from pytc.kernels import DEFAULT_OFFSETS, LONG_RANGE_OFFSETS, seg_to_affinity, seg_to_affinity_ref
from pytc.testing import read_gala

LABEL_DTYPES = [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64]
LONG_RANGE_3D = LONG_RANGE_OFFSETS
MIXED_3D = [(1, 0, 0), (0, 2, -1), (-1, -1, 3), (0, 0, 5), (2, -3, 1), (0, 0, 0), (7, 0, 0)]
MIXED_2D = [(1, 0), (0, 2), (-1, 3), (-2, -2), (0, 0), (0, 9), (4, 0)]


def layouts(seg):
    """The same labels in C order, Fortran order, a strided view and a negative-stride view."""
    big = np.zeros(tuple(2 * n for n in seg.shape), dtype=seg.dtype)
    strided = big[tuple(slice(None, None, 2) for _ in seg.shape)]
    strided[...] = seg
    return {
        "C": np.ascontiguousarray(seg),
        "F": np.asfortranarray(seg),
        "strided": strided,
        "reversed": np.ascontiguousarray(seg[..., ::-1])[..., ::-1],
    }


def assert_matches_reference(seg, offsets, **kwargs):
    aff, valid = seg_to_affinity(seg, offsets, return_mask=True, **kwargs)
    ref_aff, ref_valid = seg_to_affinity_ref(seg, offsets, dtype=aff.dtype, return_mask=True)
    assert aff.shape == ref_aff.shape and aff.dtype == ref_aff.dtype
    assert aff.flags.c_contiguous
    np.testing.assert_array_equal(aff, ref_aff)
    np.testing.assert_array_equal(valid, ref_valid)
    return aff


@pytest.mark.parametrize("dtype", LABEL_DTYPES)
@pytest.mark.parametrize("layout", ["C", "F", "strided", "reversed"])
@pytest.mark.parametrize("ndim", [2, 3])
def test_random_labels_match_reference(rng, dtype, layout, ndim):
    shape = (7, 13, 17)[-ndim:]
    seg = rng.integers(0, 4, size=shape).astype(dtype)  # few ids: many equal neighbours
    seg[seg == 3] = np.iinfo(dtype).max  # extreme ids too
    if np.issubdtype(dtype, np.signedinteger):
        seg[seg == 2] = np.iinfo(dtype).min
    seg = layouts(seg)[layout]
    offsets = MIXED_3D if ndim == 3 else MIXED_2D
    for out_dtype in (np.float32, np.uint8):
        assert_matches_reference(seg, offsets, dtype=out_dtype)
    assert_matches_reference(seg, None)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_give_identical_results(rng, threads):
    seg = rng.integers(0, 3, size=(40, 50, 60), dtype=np.uint32)  # large enough to run in parallel
    assert_matches_reference(seg, LONG_RANGE_3D, threads=threads)


def test_default_offsets_are_pytorch_connectomics():
    assert DEFAULT_OFFSETS[3] == ((-1, 0, 0), (0, -1, 0), (0, 0, -1))
    assert DEFAULT_OFFSETS[2] == ((-1, 0), (0, -1))
    seg = np.array([[[1, 1], [2, 2]], [[1, 0], [1, 2]]], dtype=np.uint16)
    aff = seg_to_affinity(seg)
    np.testing.assert_array_equal(aff[0], [[[0, 0], [0, 0]], [[1, 0], [0, 1]]])  # z-1
    np.testing.assert_array_equal(aff[1], [[[0, 0], [0, 0]], [[0, 0], [1, 0]]])  # y-1
    np.testing.assert_array_equal(aff[2], [[[0, 1], [0, 1]], [[0, 0], [0, 0]]])  # x-1


def test_mask_marks_edges_inside_volume():
    seg = np.ones((3, 4), dtype=np.uint8)
    aff, valid = seg_to_affinity(seg, [(0, -1), (2, 0), (0, 4)], return_mask=True)
    np.testing.assert_array_equal(valid[0], [[0, 1, 1, 1]] * 3)
    np.testing.assert_array_equal(valid[1], [[1] * 4, [0] * 4, [0] * 4])
    assert not valid[2].any()  # offset as long as the axis: no edge at all
    np.testing.assert_array_equal(aff, valid)  # one segment: every existing edge is connected
    assert valid.dtype == np.uint8


@pytest.mark.real_data
def test_long_range_offsets_on_real_labels():
    gt = read_gala("train-gt")
    assert gt.shape == (50, 100, 200) and gt.dtype == np.int32
    aff = assert_matches_reference(gt, LONG_RANGE_3D)
    assert 0.3 < aff.mean() < 0.95  # real neurons: mostly connected, far from trivial
    for seg in layouts(gt[:, :40, :60]).values():
        assert_matches_reference(seg.astype(np.uint64), MIXED_3D)


@pytest.mark.real_data
def test_real_labels_2d_sections():
    gt = read_gala("test-gt")
    for section in (gt[0], gt[25], gt[:, 50]):  # xy sections and an xz section (a strided view)
        assert_matches_reference(section, MIXED_2D, dtype=np.uint8)


@pytest.mark.parametrize("shape", [(0, 5, 5), (5, 0, 5), (0, 0), (1, 1, 1), (1, 1)])
def test_empty_and_single_voxel(shape):
    seg = np.ones(shape, dtype=np.uint32)
    aff, valid = seg_to_affinity(seg, return_mask=True)
    assert aff.shape == (len(shape),) + shape
    assert not aff.any() and not valid.any()  # no voxel has a neighbour inside


def test_no_offsets():
    seg = np.ones((3, 4, 5), dtype=np.uint32)
    assert seg_to_affinity(seg, []).shape == (0, 3, 4, 5)


def test_all_background_gives_no_affinity():
    seg = np.zeros((4, 5, 6), dtype=np.int64)
    aff, valid = seg_to_affinity(seg, return_mask=True)
    assert not aff.any() and valid.any()


def test_input_is_read_only_and_unchanged(rng):
    seg = rng.integers(0, 5, size=(6, 7, 8), dtype=np.uint32)
    seg.flags.writeable = False
    before = seg.copy()
    assert_matches_reference(seg, MIXED_3D)
    np.testing.assert_array_equal(seg, before)


def test_non_native_byte_order(rng):
    seg = rng.integers(0, 4, size=(5, 6, 7)).astype(">u4")
    assert_matches_reference(seg, MIXED_3D)


def test_out_buffer_is_filled_and_returned(rng):
    seg = rng.integers(0, 3, size=(5, 6, 7), dtype=np.uint16)
    out = np.full((3, 5, 6, 7), 7, dtype=np.uint8)
    aff = seg_to_affinity(seg, dtype=np.uint8, out=out)
    assert aff is out
    np.testing.assert_array_equal(out, seg_to_affinity_ref(seg, dtype=np.uint8))


@pytest.mark.parametrize(
    "seg, kwargs, error, match",
    [
        (np.ones((4, 4), np.float32), {}, TypeError, r"`seg` must be an integer label array.*float32"),
        (np.ones((4, 4), bool), {}, TypeError, r"`seg` must be an integer.*got dtype bool"),
        (np.ones((4, 4), object), {}, TypeError, r"got dtype object"),
        (np.ones(4, np.uint32), {}, ValueError, r"must be 2D \(Y, X\) or 3D.*ndim=1, shape \(4,\)"),
        (np.ones((2, 2, 2, 2), np.uint32), {}, ValueError, r"got ndim=4"),
        (np.ones((4, 4, 4), np.uint32), {"offsets": [(1, 0)]}, ValueError, r"one 3-tuple per channel.*\(1, 2\)"),
        (np.ones((4, 4), np.uint32), {"offsets": [(1, 0, 0)]}, ValueError, r"one 2-tuple per channel.*\(1, 3\)"),
        (np.ones((4, 4), np.uint32), {"offsets": [(1, 0), (1,)]}, ValueError, r"list of 2-tuples"),
        (np.ones((4, 4), np.uint32), {"offsets": [(0.5, 0)]}, TypeError, r"`offsets` must contain integers"),
        (
            np.ones((4, 4), np.uint32),
            {"dtype": np.float64},
            TypeError,
            r"`dtype` must be float32 or uint8; got float64",
        ),
        (np.ones((4, 4), np.uint32), {"threads": 0}, ValueError, r"`threads` must be a positive int or None; got 0"),
        (np.ones((4, 4), np.uint32), {"threads": 1.5}, TypeError, r"`threads`.*got 1.5"),
        (
            np.ones((4, 4), np.uint32),
            {"out": np.zeros((2, 4, 5), np.float32)},
            ValueError,
            r"`out` must have shape \(2, 4, 4\).*got shape \(2, 4, 5\)",
        ),
        (
            np.ones((4, 4), np.uint32),
            {"out": np.zeros((2, 4, 4), np.uint8)},
            ValueError,
            r"dtype float32.*got.*dtype uint8",
        ),
        (np.ones((4, 4), np.uint32), {"out": np.zeros((2, 4, 4), np.float32, order="F")}, ValueError, r"C-contiguous"),
        (np.ones((4, 4), np.uint32), {"out": [[0]]}, TypeError, r"`out` must be a numpy array"),
    ],
)
def test_bad_input(seg, kwargs, error, match):
    with pytest.raises(error, match=match):
        seg_to_affinity(seg, **kwargs)


def test_out_must_not_alias_seg():
    buffer = np.zeros((2, 4, 4), dtype=np.uint8)
    with pytest.raises(ValueError, match="must not share memory"):
        seg_to_affinity(buffer[0], dtype=np.uint8, out=buffer)


def test_compiled_function_guards_its_pointers():
    from pytc import _ext

    seg = np.ones((2, 3, 4), np.uint32)
    offsets = np.array([[0, 0, -1]], np.int64)
    with pytest.raises(ValueError, match=r"`aff` has shape \(1, 2, 3, 5\)"):
        _ext.seg_to_affinity(seg, offsets, np.zeros((1, 2, 3, 5), np.float32), None, 0)
    with pytest.raises(TypeError, match=r"`aff` must be float32 or uint8; got float64"):
        _ext.seg_to_affinity(seg, offsets, np.zeros((1, 2, 3, 4)), None, 0)
    with pytest.raises(TypeError, match=r"`seg` must be an integer array.*float32"):
        _ext.seg_to_affinity(seg.astype(np.float32), offsets, np.zeros((1, 2, 3, 4), np.float32), None, 0)
    with pytest.raises(ValueError, match=r"`offsets` must have shape \(C, 3\)"):
        _ext.seg_to_affinity(seg, offsets[:, :2].copy(), np.zeros((1, 2, 3, 4), np.float32), None, 0)
