import numpy as np
import pytest

from pytc.augment import CopyPaste, mixup


def test_copy_paste_adds_a_flipped_or_rotated_copy_of_the_objects():
    image = np.zeros((6, 40, 40), np.float32)
    label = np.zeros((6, 40, 40), np.uint32)
    label[1:4, 5:12, 5:12] = 3
    image[label > 0] = 0.9
    sample = {"image": image, "label": label}
    out = CopyPaste(p=1.0)(sample, np.random.default_rng(0))
    assert set(np.unique(out["label"])) == {0, 3}
    assert np.count_nonzero(out["label"]) > np.count_nonzero(label)  # the copy was pasted
    np.testing.assert_array_equal(out["label"][label > 0], 3)  # the original stays
    pasted = (out["label"] > 0) & (label == 0)
    assert np.median(out["image"][pasted]) == pytest.approx(0.9)  # with its image values (blended at edges)
    assert np.all(out["image"][out["label"] == 0] == 0)
    big = {"image": image, "label": np.ones_like(label)}  # foreground above aug_thres: untouched
    np.testing.assert_array_equal(CopyPaste(p=1.0)(big, np.random.default_rng(0))["label"], 1)
    with pytest.raises(KeyError, match="needs a 'label'"):
        CopyPaste(p=1.0)({"image": image}, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"`aug_thres` must be in \[0, 1\]"):
        CopyPaste(aug_thres=2)


def test_mixup_mixes_num_aug_volumes_within_the_ratios():
    rng = np.random.default_rng(0)
    batch = np.stack([np.full((1, 2, 3, 3), float(i), np.float32) for i in range(4)])
    before = batch.copy()
    out = mixup(batch, rng, num_aug=2)
    np.testing.assert_array_equal(batch, before)
    changed = [i for i in range(4) if not np.array_equal(out[i], batch[i])]
    assert len(changed) == 2
    for i in changed:
        value = out[i].flat[0]
        others = [j for j in range(4) if j != i]
        ratios = [(value - j) / (i - j) for j in others]  # value = r * i + (1 - r) * j
        assert any(0.7 - 1e-6 <= r <= 0.9 + 1e-6 for r in ratios)
    torch = pytest.importorskip("torch")
    assert mixup(torch.from_numpy(batch), np.random.default_rng(1)).shape == batch.shape
    with pytest.raises(ValueError, match="min_ratio"):
        mixup(batch, rng, min_ratio=0.9, max_ratio=0.5)
