import numpy as np
import pytest
from scipy import ndimage

from pytc.augment import CopyPaste, Mixup, mixup
from pytc.augment._mix import rotated_overlaps, rotation_sources
from pytc.augment._reference.mix import rotate_nearest_ref, rotated_overlaps_ref
from pytc.augment.mix import ANGLES
from pytc.testing import read_gala


def _kernel(foreground):
    n_z, h, w = foreground.shape
    sources = np.stack([rotation_sources(a, (h, w)) for a in ANGLES])
    return rotated_overlaps(np.ascontiguousarray(foreground).reshape(n_z, h * w).view(np.uint8), sources)


@pytest.mark.parametrize("shape", [(5, 31, 40), (3, 20, 20), (1, 7, 9), (2, 1, 1), (1, 2, 5)])
@pytest.mark.parametrize("density", [0.0, 0.2, 1.0])
def test_rotated_overlaps_matches_reference(rng, shape, density):
    foreground = rng.random(shape) < density
    before = foreground.copy()
    moved, overlap = _kernel(foreground)
    want_moved, want_overlap = rotated_overlaps_ref(foreground, ANGLES)
    np.testing.assert_array_equal(moved, want_moved)
    np.testing.assert_array_equal(overlap, want_overlap)
    np.testing.assert_array_equal(foreground, before)
    assert moved[0, 0] == overlap[0, 0] == foreground.sum()  # the identity


@pytest.mark.real_data
def test_rotated_overlaps_on_real_labels():
    gt = read_gala("train-gt")[:6, :64, :80]
    foreground = np.isin(gt, np.unique(gt)[1:4])  # a few neurons: sparse
    moved, overlap = _kernel(foreground)
    want = rotated_overlaps_ref(foreground, ANGLES)
    np.testing.assert_array_equal(moved, want[0])
    np.testing.assert_array_equal(overlap, want[1])


def _sparse_sample(channels=None):
    image = np.full((6, 40, 40), 0.1, np.float32)
    label = np.zeros((6, 40, 40), np.uint32)
    label[1:4, 5:12, 5:12] = 3
    label[1:4, 5:12, 12:16] = 4
    image[label == 3] = 0.9
    image[label == 4] = 0.6
    if channels:
        image = np.stack([image, 1 - image])
    return {"image": image, "label": label, "mask": label == 4}


@pytest.mark.parametrize("seed", range(4))
def test_copy_paste_pastes_a_rotated_copy_of_the_objects_with_their_ids_and_values(seed):
    sample = _sparse_sample(channels=2)
    before = {k: v.copy() for k, v in sample.items()}
    out = CopyPaste(p=1.0)(sample, np.random.default_rng(seed))
    for key, value in before.items():
        np.testing.assert_array_equal(sample[key], value)
    label, new = before["label"], out["label"]
    assert set(np.unique(new)) == {0, 3, 4}
    np.testing.assert_array_equal(new[label > 0], label[label > 0])  # the originals stay
    pasted = (new > 0) & (label == 0)
    assert pasted.sum() > 0.5 * (label > 0).sum()  # a copy (cropped by the border gap at most)
    # its image values travel with the ids, in every channel; nothing else changes
    np.testing.assert_array_equal(out["image"][0][new == 3], np.float32(0.9))
    np.testing.assert_array_equal(out["image"][0][new == 4], np.float32(0.6))
    np.testing.assert_allclose(out["image"][1], 1 - out["image"][0])
    np.testing.assert_array_equal(out["image"][0][new == 0], np.float32(0.1))
    np.testing.assert_array_equal(out["mask"], new == 4)
    # at least `border` voxels (26-connected) away from the original foreground, and no overlap
    near = ndimage.binary_dilation(label > 0, ndimage.generate_binary_structure(3, 3), 3)
    assert not np.any(pasted & near)


def test_copy_paste_copy_is_one_of_the_least_overlapping_rotations():
    sample = _sparse_sample()
    out = CopyPaste(p=1.0, border=0)(sample, np.random.default_rng(0))
    label = sample["label"]
    pasted = (out["label"] > 0) & (label == 0)
    # with border 0 and no overlap, the pasted voxels are exactly one of the candidate copies
    copies = [rotate_nearest_ref(label[::-1] if flip else label, a) for a in ANGLES for flip in (0, 1)]
    assert any(np.array_equal(pasted, (c > 0) & (label == 0)) and not np.any((c > 0) & (label > 0)) for c in copies[1:])


def test_copy_paste_leaves_dense_empty_or_unlabelled_samples_alone():
    sample = _sparse_sample()
    dense = {"image": sample["image"], "label": np.ones_like(sample["label"])}  # foreground above aug_thres
    np.testing.assert_array_equal(CopyPaste(p=1.0)(dense, np.random.default_rng(0))["label"], 1)
    empty = {"image": sample["image"], "label": np.zeros_like(sample["label"])}
    np.testing.assert_array_equal(CopyPaste(p=1.0)(empty, np.random.default_rng(0))["image"], sample["image"])
    single = {"image": np.ones((1, 1, 1), np.float32), "label": np.ones((1, 1, 1), np.uint32)}
    np.testing.assert_array_equal(CopyPaste(p=1.0, aug_thres=1.0)(single, np.random.default_rng(0))["label"], 1)
    with pytest.raises(KeyError, match="needs a 'label'"):
        CopyPaste(p=1.0)({"image": sample["image"]}, np.random.default_rng(0))


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: CopyPaste(aug_thres=2), ValueError, r"CopyPaste: `aug_thres` must be in \[0, 1\]; got 2"),
        (lambda: CopyPaste(border=1.5), TypeError, r"CopyPaste: `border` must be an integer; got 1.5"),
        (lambda: CopyPaste(border=-1), ValueError, r"CopyPaste: `border` must be in \[0, inf\]; got -1"),
        (lambda: Mixup(min_ratio=-0.1), ValueError, r"Mixup: `min_ratio` must be in \[0, 1\]; got -0.1"),
        (lambda: Mixup(min_ratio=0.9, max_ratio=0.5), ValueError, r"Mixup: `max_ratio` must be in \[0.9, 1\]; got 0.5"),
        (lambda: Mixup(num_aug=1.5), TypeError, r"Mixup: `num_aug` must be an integer; got 1.5"),
        (lambda: Mixup(num_aug=-1), ValueError, r"Mixup: `num_aug` must be in \[0, inf\]; got -1"),
    ],
)
def test_bad_parameters(make, error, match):
    with pytest.raises(error, match=match):
        make()


def _batch(dtype=np.float32, n=4):
    return np.stack([np.full((1, 2, 3, 3), 40.0 * i, np.float32) for i in range(n)]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_mixup_mixes_num_aug_volumes_within_the_ratios(dtype):
    batch = _batch(dtype)
    before = batch.copy()
    aug = Mixup()
    mixes = aug.draw(4, np.random.default_rng(0))
    out = aug.mix_batch(batch, np.random.default_rng(0))
    np.testing.assert_array_equal(batch, before)
    assert out.dtype == dtype and out.shape == batch.shape
    assert len(mixes) == 2 and len({m[0] for m in mixes}) == 2
    for major, minor, ratio in mixes:
        assert major != minor and 0.7 <= ratio <= 0.9
        want = before[major].astype(float) * ratio + before[minor].astype(float) * (1 - ratio)
        np.testing.assert_allclose(out[major], want, atol=0.5 if dtype == np.uint8 else 1e-4)
    untouched = set(range(4)) - {m[0] for m in mixes}
    for i in untouched:
        np.testing.assert_array_equal(out[i], batch[i])
    np.testing.assert_array_equal(mixup(batch, np.random.default_rng(0)), out)  # the function form


def test_mixup_edge_cases_and_bad_input():
    aug = Mixup(num_aug=5)
    one = _batch(n=1)
    np.testing.assert_array_equal(aug.mix_batch(one, np.random.default_rng(0)), one)  # nothing to mix with
    assert len(aug.draw(3, np.random.default_rng(0))) == 3  # at most the batch
    assert Mixup(num_aug=0).draw(4, np.random.default_rng(0)) == []
    same = Mixup(min_ratio=1.0, max_ratio=1.0).mix_batch(_batch(), np.random.default_rng(0))
    np.testing.assert_array_equal(same, _batch())
    with pytest.raises(TypeError, match="`images` must be a numpy array or a torch tensor; got list"):
        aug.mix_batch([1, 2], np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"`images` must have a batch axis and at least one more; got shape \(4,\)"):
        aug.mix_batch(np.zeros(4, np.float32), np.random.default_rng(0))
    with pytest.raises(TypeError, match="`rng` must be a numpy.random.Generator; got int"):
        aug.mix_batch(_batch(), 0)


def test_mixup_on_torch_tensors():
    import torch

    batch = _batch(np.uint8)
    tensor = torch.from_numpy(batch.copy())
    out = Mixup().mix_batch(tensor, np.random.default_rng(0))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.uint8
    np.testing.assert_array_equal(tensor.numpy(), batch)
    np.testing.assert_allclose(out.numpy(), Mixup().mix_batch(batch, np.random.default_rng(0)), atol=1)
