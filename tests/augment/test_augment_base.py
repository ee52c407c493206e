import numpy as np
import pytest

from pytc.augment import Compose, Flip, Grayscale, Rotate, center_crop


def sample(shape=(4, 10, 12)):
    rng = np.random.default_rng(0)
    return {
        "image": rng.random(shape).astype(np.float32),
        "label": np.arange(np.prod(shape), dtype=np.uint32).reshape(shape),
    }


def test_compose_margins_and_crop():
    aug = Compose([Flip(), Rotate(rot90=False)], output_shape=(4, 10, 12))
    # the arbitrary rotation needs the diagonal of the output; the y-x transpose then needs a square
    assert aug.input_shape() == (4, 18, 18)
    assert Compose([Rotate(rot90=False), Flip()]).input_shape((4, 10, 12)) == (4, 19, 19)  # rotates a 12x12 square
    big = sample((4, 20, 20))
    out = aug(big, np.random.default_rng(0))
    assert out["image"].shape == (4, 10, 12) and out["image"].flags.c_contiguous
    with pytest.raises(ValueError, match=r"spatial shape \(4, 10, 12\), smaller than the \(4, 18, 18\)"):
        aug(sample(), np.random.default_rng(0))


def test_probability_zero_and_one():
    s = sample()
    out = Grayscale(p=0.0)(s, np.random.default_rng(0))
    assert out is not s and out["image"] is s["image"]
    out = Grayscale(p=1.0)(s, np.random.default_rng(0))
    assert not np.array_equal(out["image"], s["image"])
    np.testing.assert_array_equal(out["label"], s["label"])  # intensity: image only


def test_flip_and_rot90_are_exact_permutations():
    s = sample((4, 10, 10))
    for seed in range(8):
        for aug in (Flip(p=1), Rotate(p=1)):
            out = aug(s, np.random.default_rng(seed))
            assert sorted(out["label"].ravel()) == sorted(s["label"].ravel())
            # image moved with the label: each label id keeps its image value
            np.testing.assert_array_equal(out["image"].ravel()[np.argsort(out["label"].ravel())], s["image"].ravel())


def test_center_crop():
    a = np.arange(2 * 5 * 6).reshape(2, 5, 6)
    np.testing.assert_array_equal(center_crop(a, (3, 2)), a[:, 1:4, 2:4])
    with pytest.raises(
        ValueError, match=r"`array` must be at least \(6, 6\) on its last axes; got spatial shape \(5, 6"
    ):
        center_crop(a, (6, 6))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Grayscale(mode="4d"), r"Grayscale: `mode` must be one of \('2d', '3d', 'mix'\); got '4d'"),
        (lambda: Grayscale(contrast_factor=2), r"`contrast_factor` must be in \[0, 1\]; got 2"),
        (lambda: Compose([Flip()], output_shape=(4, 4)), r"`output_shape` must be 3 positive ints"),
        (lambda: Compose([np.zeros(3)]), r"`transforms` must hold Augmentation objects; got ndarray"),
    ],
)
def test_bad_parameters(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_bad_samples():
    rng = np.random.default_rng(0)
    with pytest.raises(KeyError, match="must have an 'image'"):
        Flip()({"label": np.zeros((2, 2, 2), np.uint32)}, rng)
    with pytest.raises(ValueError, match=r"'label' has shape \(2, 2, 3\); expected"):
        Flip()({"image": np.zeros((2, 2, 2), np.float32), "label": np.zeros((2, 2, 3), np.uint32)}, rng)
    with pytest.raises(TypeError, match="'image' must be float32 or uint8; got float64"):
        Flip()({"image": np.zeros((2, 2, 2))}, rng)
    with pytest.raises(TypeError, match="`rng` must be a numpy.random.Generator"):
        Flip()({"image": np.zeros((2, 2, 2), np.float32)}, 0)
