import numpy as np
import pytest
from scipy import ndimage

from pytc.augment import CutBlur, CutNoise, Rescale
from pytc.augment._reference.cut import blur_cuboid_ref
from pytc.augment.cut import blur_cuboid, random_cuboid
from pytc.testing import read_gala


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


@pytest.mark.parametrize("shape", [(4, 40, 40), (1, 16, 45), (7, 9, 2), (1, 1, 1), (2, 3, 1)])
@pytest.mark.parametrize("factor", [(1.0, 2.0, 2.0), (1.0, 7.3, 3.1), (2.5, 4.4, 8.0), (1.0, 1.0, 1.0)])
def test_blur_cuboid_matches_pytorch_connectomics_skimage_resize(rng, shape, factor):
    block = rng.random(shape).astype(np.float32)
    before = block.copy()
    np.testing.assert_allclose(blur_cuboid(block, factor), blur_cuboid_ref(block, factor), atol=1e-6)
    np.testing.assert_array_equal(block, before)


@pytest.mark.real_data
def test_blur_cuboid_on_real_data_and_constant_blocks():
    image = read_gala("train-image")[:4, :40, :40].astype(np.float32)
    np.testing.assert_allclose(blur_cuboid(image, (1, 4.7, 4.7)), blur_cuboid_ref(image, (1, 4.7, 4.7)), atol=1e-4)
    flat = np.full((3, 12, 12), 0.25, np.float32)
    np.testing.assert_array_equal(blur_cuboid(flat, (1, 3, 3)), flat)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
@pytest.mark.parametrize("downsample_z", [False, True])
def test_cutblur_is_the_reference_blur_on_the_drawn_cuboid(dtype, downsample_z):
    s = sample((8, 40, 40), dtype)
    s["image"] = np.stack([s["image"], s["image"][::-1]])  # two channels: the same cuboid and factor
    before = s["image"].copy()
    out = CutBlur(p=1.0, length_ratio=0.5, downsample_z=downsample_z)(s, np.random.default_rng(4))["image"]
    np.testing.assert_array_equal(s["image"], before)
    rng = np.random.default_rng(4)  # replay the draws: p, cuboid, factor
    rng.random()
    box = random_cuboid((8, 40, 40), 0.5, rng)
    ratio = rng.uniform(2.0, 8.0)
    factor = (ratio if downsample_z else 1.0, ratio, ratio)
    want = before.copy()
    for c in range(2):
        blurred = blur_cuboid_ref(before[c][box].astype(np.float32), factor)
        want[c][box] = np.clip(np.rint(blurred), 0, 255) if dtype == np.uint8 else blurred
    assert out.dtype == dtype
    np.testing.assert_allclose(out.astype(np.float32), want.astype(np.float32), atol=1e-6)
    assert not np.array_equal(out, before)


def test_cutnoise_on_uint8_stays_in_range_and_scales_by_255():
    s = sample((6, 30, 30), np.uint8)
    out = CutNoise(p=1.0, length_ratio=1.0, scale=0.1)(s, np.random.default_rng(2))["image"]
    diff = np.abs(out.astype(int) - s["image"].astype(int))
    assert out.dtype == np.uint8 and 15 <= diff.max() <= 26  # 0.1 * 255 = 25.5, rounded
    gauss = CutNoise(p=1.0, length_ratio=1.0, mode="gaussian", scale=0.05)(sample(), np.random.default_rng(2))
    assert 0.02 < np.std(gauss["image"] - sample()["image"]) < 0.06


def test_cutnoise_spans_z_for_single_sections():
    s = sample((1, 40, 40))
    out = CutNoise(p=1.0, length_ratio=0.5)(s, np.random.default_rng(0))["image"]
    low, high = changed_box(s["image"], out)
    assert (low[0], high[0]) == (0, 1) and np.all(high[1:] - low[1:] <= 20)


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
    "make, error, match",
    [
        (lambda: CutBlur(down_ratio_min=0.5), ValueError, r"`down_ratio_min` must be in \[1, inf\]"),
        (lambda: CutBlur(down_ratio_min=4, down_ratio_max=2), ValueError, r"`down_ratio_max` must be in \[4, inf\]"),
        (lambda: CutNoise(mode="salt"), ValueError, r"`mode` must be one of \('uniform', 'gaussian'\)"),
        (lambda: CutNoise(length_ratio=2), ValueError, r"`length_ratio` must be in \[0, 1\]"),
        (lambda: Rescale(low=0.3), ValueError, r"`low` must be in \[0.5, 1.0\]"),
        (lambda: Rescale(high=0.7), ValueError, r"`high` must be in \[0.8, inf\]"),
        (lambda: Rescale(fix_aspect="yes"), TypeError, r"Rescale: `fix_aspect` must be a bool; got 'yes'"),
        (lambda: CutBlur(downsample_z=1), TypeError, r"CutBlur: `downsample_z` must be a bool; got 1"),
        (lambda: CutBlur(length_ratio=-0.1), ValueError, r"CutBlur: `length_ratio` must be in \[0, 1\]; got -0.1"),
        (lambda: CutNoise(scale=-1), ValueError, r"CutNoise: `scale` must be in \[0, inf\]; got -1"),
    ],
)
def test_bad_parameters(make, error, match):
    with pytest.raises(error, match=match):
        make()
