import numpy as np
import pytest

from pytc.kernels._contingency import contingency_table
from pytc.kernels._reference.metrics import contingency_table_ref
from pytc.testing import read_gala, require_data

LABEL_DTYPES = [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64]


def layouts(labels):
    """The same labels in C order, Fortran order, a strided view and a negative-stride view."""
    big = np.zeros(tuple(2 * n for n in labels.shape), dtype=labels.dtype)
    strided = big[tuple(slice(None, None, 2) for _ in labels.shape)]
    strided[...] = labels
    return {
        "C": np.ascontiguousarray(labels),
        "F": np.asfortranarray(labels),
        "strided": strided,
        "reversed": np.ascontiguousarray(labels[..., ::-1])[..., ::-1],
    }


def random_labels(rng, shape, dtype, n=5):
    """Few labels in blocks (runs of equal pairs) plus extreme values of the dtype."""
    labels = rng.integers(0, n, size=shape)
    labels = np.repeat(labels, 2, axis=-1)[..., : shape[-1]]  # runs along the last axis
    labels = labels.astype(dtype)
    info = np.iinfo(dtype)
    labels[labels == n - 1] = info.max
    if info.min < 0:
        labels[labels == n - 2] = info.min
        labels[labels == 1] = -1
    return labels


def assert_tables_equal(table, expected):
    seg_ids, gt_ids, counts = table
    assert seg_ids.dtype == np.uint64 and gt_ids.dtype == np.uint64 and counts.dtype == np.int64
    for got, want in zip(table, expected):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seg_dtype", LABEL_DTYPES)
@pytest.mark.parametrize("gt_dtype", [np.uint8, np.int16, np.uint32, np.int64])
@pytest.mark.parametrize("ndim", [2, 3])
def test_random_labels_match_reference(rng, seg_dtype, gt_dtype, ndim):
    shape = (5, 11, 13)[-ndim:]
    seg = random_labels(rng, shape, seg_dtype)
    gt = random_labels(rng, shape, gt_dtype)
    expected = contingency_table_ref(seg, gt)
    for seg_layout in layouts(seg).values():
        for gt_layout in layouts(gt).values():
            assert_tables_equal(contingency_table(seg_layout, gt_layout), expected)
    expected = contingency_table_ref(seg, gt, ignore_seg=(0, -1), ignore_gt=(np.iinfo(gt_dtype).max,))
    table = contingency_table(layouts(seg)["F"], gt, ignore_seg=(0, -1), ignore_gt=np.iinfo(gt_dtype).max)
    assert_tables_equal(table, expected)


def test_signed_ids_round_trip():
    seg = np.array([-1, -128, 127, 0, -1], dtype=np.int8)
    gt = np.array([5, 5, 5, 5, 5], dtype=np.uint64)
    seg_ids, _gt_ids, counts = contingency_table(seg, gt)
    np.testing.assert_array_equal(seg_ids.view(np.int64), [0, 127, -128, -1])  # sorted as uint64
    np.testing.assert_array_equal(counts, [1, 1, 1, 2])
    # by value: -1 is not a uint64 label, 2**64 - 1 is not an int8 label
    big = np.array([2**64 - 1, 0], dtype=np.uint64)
    assert contingency_table(big, big, ignore_seg=-1)[2].sum() == 2
    assert contingency_table(seg, gt, ignore_seg=2**64 - 1)[2].sum() == 5
    assert contingency_table(seg, gt, ignore_seg=[-1, 300])[2].sum() == 3


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_threads_give_identical_results(rng, threads):
    seg = rng.integers(0, 50, size=(30, 40, 60), dtype=np.uint32)  # large enough to run in parallel
    gt = np.repeat(rng.integers(0, 20, size=(30, 40, 30), dtype=np.int16), 2, axis=2)
    expected = contingency_table_ref(seg, gt, ignore_gt=0)
    assert_tables_equal(contingency_table(seg, gt, ignore_gt=0, threads=threads), expected)
    assert_tables_equal(contingency_table(seg, np.asfortranarray(gt), ignore_gt=0, threads=threads), expected)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("row", [37, 64, 1000])
def test_many_pairs_and_runs_of_every_length(rng, threads, row):
    """Thousands of distinct pairs (far more than the kernel's cache of recent pairs, so entries are
    evicted and come back) in runs of 1 to 70 voxels that start and end anywhere in the 32-voxel
    blocks of the change mask and across rows; ignored labels in between."""
    n_voxels = row * (200_000 // row)

    def runs(n_labels, dtype):
        lengths = rng.integers(1, 71, size=n_voxels // 10)  # enough runs for n_voxels
        return np.repeat(rng.integers(0, n_labels, size=len(lengths)).astype(dtype), lengths)[:n_voxels]

    seg, gt = runs(3000, np.uint64).reshape(-1, row), runs(500, np.int32).reshape(-1, row)
    expected = contingency_table_ref(seg, gt, ignore_seg=7, ignore_gt=0)
    assert len(expected[2]) > 2000
    assert_tables_equal(contingency_table(seg, gt, ignore_seg=7, ignore_gt=0, threads=threads), expected)
    assert_tables_equal(contingency_table(seg, gt, threads=threads), contingency_table_ref(seg, gt))


@pytest.mark.real_data
def test_real_gala_fragments_against_gt():
    gt, ws = read_gala("train-gt"), read_gala("train-ws")
    expected = contingency_table_ref(ws, gt, ignore_gt=0)
    table = contingency_table(ws, gt, ignore_gt=0)
    assert_tables_equal(table, expected)
    assert table[2].sum() == np.count_nonzero(gt) and len(table[2]) > 100
    sub_gt, sub_ws = gt[::2, 10:90, ::-3], ws[::2, 10:90, ::-3]  # strided views, reversed x
    assert_tables_equal(contingency_table(sub_ws, sub_gt.astype(np.uint16)), contingency_table_ref(sub_ws, sub_gt))


@pytest.mark.real_data
def test_real_snemi_fragments_against_labels():
    import tifffile

    folder = require_data("gala_snemi_mini_labels_only")
    labels = tifffile.imread(folder / "train-labels.tif")
    fragments = tifffile.imread(folder / "train-fragments.tif")
    assert labels.shape == fragments.shape
    assert_tables_equal(
        contingency_table(fragments, labels, ignore_gt=0), contingency_table_ref(fragments, labels, ignore_gt=0)
    )


@pytest.mark.parametrize("shape", [(0,), (0, 5, 5), (5, 0), ()])
def test_empty_and_scalar(shape):
    seg = np.ones(shape, dtype=np.uint32)
    gt = np.full(shape, 2, dtype=np.int8)
    seg_ids, gt_ids, counts = contingency_table(seg, gt)
    if seg.size == 0:
        assert len(seg_ids) == len(gt_ids) == len(counts) == 0
    else:
        assert (seg_ids.tolist(), gt_ids.tolist(), counts.tolist()) == ([1], [2], [1])


def test_single_voxel_and_all_ignored():
    one = np.array([[[3]]], dtype=np.uint16)
    assert_tables_equal(contingency_table(one, one), ([3], [3], [1]))
    gt = np.zeros((4, 5), dtype=np.uint8)
    table = contingency_table(np.arange(20).reshape(4, 5), gt, ignore_gt=(0,))
    assert all(len(a) == 0 for a in table)
    assert_tables_equal(contingency_table(gt, gt), ([0], [0], [20]))  # nothing ignored by default


def test_input_is_read_only_and_unchanged(rng):
    seg = rng.integers(0, 5, size=(6, 7, 8), dtype=np.uint32)
    gt = rng.integers(0, 5, size=(6, 7, 8), dtype=np.int64)
    seg.flags.writeable = False
    gt.flags.writeable = False
    before = seg.copy(), gt.copy()
    assert_tables_equal(contingency_table(seg, gt, ignore_gt=0), contingency_table_ref(seg, gt, ignore_gt=0))
    np.testing.assert_array_equal(seg, before[0])
    np.testing.assert_array_equal(gt, before[1])


def test_non_native_byte_order():
    seg = np.array([1, 1, 258], dtype=">u2")
    gt = np.array([70000, 5, 5], dtype=">i4")
    assert_tables_equal(contingency_table(seg, gt), ([1, 1, 258], [5, 70000, 5], [1, 1, 1]))


def test_bad_inputs():
    seg = np.zeros((3, 4), dtype=np.uint32)
    with pytest.raises(
        ValueError,
        match=r"contingency_table: `seg` and `gt` must have the same shape; got seg shape \(3, 4\) and gt shape \(4, 3\)",
    ):
        contingency_table(seg, seg.T.copy()[:4])
    with pytest.raises(TypeError, match="`seg` must be an integer label array.*float32"):
        contingency_table(seg.astype(np.float32), seg)
    with pytest.raises(TypeError, match="`gt` must be an integer label array.*bool"):
        contingency_table(seg, seg.astype(bool))
    with pytest.raises(TypeError, match="`ignore_gt` must hold integer labels; got 0.5"):
        contingency_table(seg, seg, ignore_gt=[0.5])
    with pytest.raises(TypeError, match="`ignore_seg` must hold integer labels; got True"):
        contingency_table(seg, seg, ignore_seg=True)
    with pytest.raises(ValueError, match="`threads` must be a positive int"):
        contingency_table(seg, seg, threads=0)
