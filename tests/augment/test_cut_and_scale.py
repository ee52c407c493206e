import numpy as np
import pytest
from scipy import ndimage

from pytc.augment import CutBlur, CutNoise, Rescale
from pytc.augment.cut import blur_cuboid


def sample(shape=(8, 40, 40), dtype=np.float32):
    rng = np.random.default_rng(0)
    image = rng.random(shape).astype(np.float32)
    if dtype == np.uint8:
        image = (image * 255).astype(np.uint8)
    return {"image": image, "label": np.arange(np.prod(shape), dtype=np.uint32).reshape(shape)}


def changed_box(before, after):
    diff = np.argwhere(before != after)
    return diff.min(0), diff.max(0) + 1


@pytest.mark.parametrize("cls", [CutBlur, CutNoise])
def test_cut_augmentations_change_one_cuboid_of_the_image(cls):
    s = sample()
    out = cls(p=1.0, length_ratio=0.5)(s, np.random.default_rng(3))
    np.testing.assert_array_equal(out["label"], s["label"])
    low, high = changed_box(s["image"], out["image"])
    assert np.all(high - low <= np.array([4, 20, 20]))  # inside one cuboid of half the sides
    assert out["image"].min() >= 0 and out["image"].max() <= 1


def test_cutnoise_is_bounded_by_scale():
    s = sample()
    out = CutNoise(p=1.0, length_ratio=1.0, scale=0.05)(s, np.random.default_rng(0))
    assert np.abs(out["image"] - s["image"]).max() <= 0.05 + 1e-6


def test_blur_cuboid_is_piecewise_constant_at_low_resolution():
    block = np.random.default_rng(1).random((2, 16, 16)).astype(np.float32)
    out = blur_cuboid(block, (1.0, 4.0, 4.0))
    assert out.shape == block.shape
    assert np.all(out[:, ::4, ::4].repeat(4, 1).repeat(4, 2) == out)  # 4x4 blocks of one value
    assert abs(out.mean() - block.mean()) < 0.05


def test_rescale_zooms_about_the_centre():
    s = {"image": np.zeros((2, 41, 41), np.float32), "label": np.zeros((2, 41, 41), np.uint32)}
    s["label"][:, 15:26, 15:26] = 7  # an 11 x 11 square at the centre
    out = Rescale(p=1.0, low=1.0, high=1.0)(s, np.random.default_rng(0))
    np.testing.assert_array_equal(out["label"], s["label"])  # scale 1: identity
    aug = Rescale(p=1.0, low=0.5, high=0.5)  # zoom out by 2: the square halves
    out = aug(s, np.random.default_rng(0))
    assert ndimage.find_objects(out["label"][0])[6] == (slice(18, 23), slice(18, 23))
    assert aug.input_shape((2, 20, 30)) == (2, 40, 60)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: CutBlur(down_ratio_min=0.5), r"`down_ratio_min` must be in \[1, inf\]"),
        (lambda: CutBlur(down_ratio_min=4, down_ratio_max=2), r"`down_ratio_max` must be in \[4, inf\]"),
        (lambda: CutNoise(mode="salt"), r"`mode` must be one of \('uniform', 'gaussian'\)"),
        (lambda: CutNoise(length_ratio=2), r"`length_ratio` must be in \[0, 1\]"),
        (lambda: Rescale(low=0.3), r"`low` must be in \[0.5, 1.0\]"),
        (lambda: Rescale(high=0.7), r"`high` must be in \[0.8, inf\]"),
    ],
)
def test_bad_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()
