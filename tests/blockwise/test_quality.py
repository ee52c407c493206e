"""face_splits and split_pairs: hand-made cases, a loop-level oracle on random labels, and gala cut into blocks."""

import itertools

import numpy as np
import pytest

from pytc.blockwise.quality import face_splits, majority_reference, split_pairs
from pytc.testing import read_gala


def split_pairs_loops(seg, ref, block_shape, where):
    """Oracle: majorities by counting voxel by voxel, then every pair of neighbours across each plane."""
    counts = {}
    for s, r in zip(seg.ravel().tolist(), ref.ravel().tolist()):
        if r:
            counts.setdefault(s, {}).setdefault(r, 0)
            counts[s][r] += 1
    majority = {s: min(c, key=lambda r: (-c[r], r)) for s, c in counts.items()}
    pairs = set()
    for axis in range(3):
        for p in range(1, seg.shape[axis]):
            if (p % block_shape[axis] == 0) != (where == "faces"):
                continue
            for a, b in zip(np.take(seg, p - 1, axis).ravel().tolist(), np.take(seg, p, axis).ravel().tolist()):
                if a != b and a and b and majority.get(a, 0) and majority.get(a) == majority.get(b):
                    pairs.add((min(a, b), max(a, b)))
    return len(pairs)


def test_hand_made_cut_at_a_face_and_inside():
    reference = np.ones((2, 2, 6), dtype=np.uint32)
    seg = np.zeros((2, 2, 6), dtype=np.uint64)
    seg[..., :3] = 5
    seg[..., 3:] = 7  # cut at x = 3: a face of blocks of 3
    assert face_splits(seg, reference, (2, 2, 3)) == 1
    assert split_pairs(seg, reference, (2, 2, 3), "inside") == {"pairs": 0, "planes": 1 + 1 + 4}
    assert face_splits(seg, reference, (2, 2, 2)) == 0  # x = 3 is inside blocks of 2
    assert split_pairs(seg, reference, (2, 2, 2), "inside")["pairs"] == 1
    # the same cut counted once however many voxels touch across it
    assert face_splits(seg, reference, (1, 1, 3)) == 1


def test_hand_made_distinct_reference_segments_are_not_splits():
    reference = np.zeros((1, 4, 4), dtype=np.uint16)
    reference[:, :2] = 1
    reference[:, 2:] = 2
    seg = np.where(reference == 1, 10, 20).astype(np.uint32)  # a correct boundary on the face y = 2
    assert face_splits(seg, reference, (1, 2, 2)) == 0
    # segment 20 mostly in reference 1 (6 voxels of 1, 2 of 2): now it splits reference 1 at y = 2
    reference[:, 2, :3] = 1
    reference[:, 3, :3] = 1
    assert face_splits(seg, reference, (1, 2, 2)) == 1


def test_hand_made_background_and_unlabelled_segments():
    reference = np.array([[[1, 1, 0, 0]]], dtype=np.uint8)
    seg = np.array([[[1, 2, 3, 4]]], dtype=np.uint8)
    # 1|2 share reference 1 (inside the block of 2); 3|4 have no majority (reference 0 only): never a split
    assert face_splits(seg, reference, (1, 1, 2)) == 0
    assert split_pairs(seg, reference, (1, 1, 2), "inside")["pairs"] == 1
    assert face_splits(np.array([[[1, 0, 0, 1]]]), np.ones((1, 1, 4), dtype=int), (1, 1, 2)) == 0  # 0: background


def test_majority_ties_take_the_smallest_reference_id():
    seg = np.array([[[1, 1, 1, 1]]])
    ref = np.array([[[4, 4, 3, 3]]])
    ids, index, majority = majority_reference(seg, ref)
    assert ids.tolist() == [1] and majority.tolist() == [3] and index.shape == seg.shape


@pytest.mark.parametrize("seed", range(6))
def test_random_labels_equal_the_loop_oracle(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(3, 9, 3))
    block_shape = tuple(rng.integers(1, 5, 3))
    ref = rng.integers(0, 4, shape).astype(np.int32)
    seg = rng.integers(0, 12, shape).astype(np.uint64)
    before = (seg.copy(), ref.copy())
    for where in ("faces", "inside"):
        assert split_pairs(seg, ref, block_shape, where)["pairs"] == split_pairs_loops(seg, ref, block_shape, where)
    assert np.array_equal(seg, before[0]) and np.array_equal(ref, before[1])  # inputs untouched


def test_plane_counts():
    seg = np.ones((8, 6, 5), dtype=np.uint8)
    assert split_pairs(seg, seg, (4, 3, 2), "faces")["planes"] == 1 + 1 + 2
    assert split_pairs(seg, seg, (4, 3, 2), "inside")["planes"] == 6 + 4 + 2


@pytest.mark.real_data
def test_gala_cut_into_blocks():
    """gala's ground truth against itself: no split; each segment relabelled per block: one split per touching
    pair of a segment's pieces in neighbouring blocks, none inside blocks."""
    gt = read_gala("train-gt")[:32, :80, :80].astype(np.uint64)
    block_shape = (16, 32, 40)
    assert face_splits(gt, gt, block_shape) == 0
    assert split_pairs(gt, gt, block_shape, "inside")["pairs"] == 0
    block = np.zeros(gt.shape, dtype=np.uint64)
    for k, (z, y, x) in enumerate(itertools.product(*[range(0, s, b) for s, b in zip(gt.shape, block_shape)])):
        block[z : z + block_shape[0], y : y + block_shape[1], x : x + block_shape[2]] = k
    cut = np.where(gt != 0, gt * np.uint64(1000) + block, 0)
    expected = split_pairs_loops(cut, gt, block_shape, "faces")
    assert expected > 10
    assert face_splits(cut, gt, block_shape) == expected
    assert split_pairs(cut, gt, block_shape, "inside")["pairs"] == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"segmentation": np.zeros((2, 2))}, "`segmentation` must be a 3D integer array"),
        ({"segmentation": np.zeros((2, 2, 2), dtype=np.float32)}, "`segmentation` must be a 3D integer array"),
        ({"reference": np.zeros((2, 2, 3), dtype=int)}, "`reference` must be an integer array of shape"),
        ({"block_shape": (2, 2)}, "`block_shape` must be three integers >= 1"),
        ({"block_shape": (2, 0, 2)}, "`block_shape` must be three integers >= 1"),
        ({"block_shape": "ab"}, "`block_shape` must be three integers >= 1"),
        ({"where": "edges"}, "`where` must be one of"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"segmentation": np.zeros((2, 2, 2), dtype=int), "reference": np.zeros((2, 2, 2), dtype=int)}
    args.update(block_shape=(1, 1, 1), where="faces")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        split_pairs(**args)
