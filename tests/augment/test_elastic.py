import numpy as np
import pytest

from pytc.augment import Compose, Elastic
from pytc.augment._elastic import coarse_field, elastic_2d, elastic_3d, warp_with_field
from pytc.augment._reference.elastic import field_from_coarse_ref, pytc_field_ref, warp_with_field_ref


def _volumes(rng, shape):
    return rng.random(shape).astype(np.float32), rng.integers(0, 20, shape).astype(np.uint32)


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("order", [0, 1])
def test_fused_kernel_matches_map_coordinates(rng, ndim, order):
    shape = (9, 23, 31)
    image, label = _volumes(rng, shape)
    src = label if order == 0 else image
    alpha = 5.0
    coef, spacing = coarse_field(shape, ndim, 3.0, alpha, rng)
    coef *= 3  # larger displacements: more clamping at the borders and bigger fractions
    out = np.empty_like(src)
    (elastic_3d if ndim == 3 else elastic_2d)(src, out, coef, spacing, alpha, order)
    field = field_from_coarse_ref(coef, spacing, shape, alpha)
    ref = warp_with_field_ref(src, field, order)
    if order == 0:
        np.testing.assert_array_equal(out, ref)
    else:
        np.testing.assert_allclose(out, ref, atol=1e-4)


@pytest.mark.parametrize("order", [0, 1])
def test_warp_with_field_matches_map_coordinates(rng, order):
    shape = (7, 19, 16)
    image, label = _volumes(rng, shape)
    src = label if order == 0 else image
    field = rng.normal(0, 3, (3,) + shape)
    out = warp_with_field(src, field, order)
    ref = warp_with_field_ref(src, field, order)
    if order == 0:
        np.testing.assert_array_equal(out, ref)
    else:
        np.testing.assert_allclose(out, ref, atol=1e-4)
    mask = label % 2 == 0
    np.testing.assert_array_equal(warp_with_field(mask, field, 0), warp_with_field_ref(mask, field, 0))


def test_field_statistics_like_pytorch_connectomics():
    """The coarse B-spline field has the std and the smoothness (lag correlations) of PyTC's field."""
    shape, sigma, alpha = (512, 512), 4.0, 16.0
    ours = field_from_coarse_ref(
        coarse_field(shape, 2, sigma, alpha, np.random.default_rng(0))[0], sigma, (1,) + shape, alpha
    )[1:, 0, 40:-40, 40:-40]
    theirs = pytc_field_ref(shape, sigma, alpha, np.random.default_rng(1))[:, 40:-40, 40:-40]
    assert abs(ours.std() / theirs.std() - 1) < 0.1

    def corr(f, lag):
        return np.mean([np.corrcoef(c[:, :-lag].ravel(), c[:, lag:].ravel())[0, 1] for c in f])

    for lag in (2, 4, 8):
        assert abs(corr(ours, lag) - corr(theirs, lag)) < 0.08


@pytest.mark.parametrize("mode", ["2d", "3d"])
def test_elastic_sample(rng, mode):
    aug = Elastic(p=1.0, mode=mode)
    out_shape = (6, 20, 20)
    shape = aug.input_shape(out_shape)
    m = aug.margin()
    assert m == (6 if mode == "2d" else 4)
    assert shape == ((6,) if mode == "2d" else (6 + 2 * m,)) + (20 + 2 * m, 20 + 2 * m)
    image, label = _volumes(rng, shape)
    sample = {"image": np.stack([image, image]), "label": label, "mask": label > 3}
    before = {k: v.copy() for k, v in sample.items()}
    out = Compose([aug], output_shape=out_shape)(sample, np.random.default_rng(3))
    for k, v in before.items():
        np.testing.assert_array_equal(sample[k], v)
    assert out["image"].shape == (2,) + out_shape and out["image"].dtype == np.float32
    np.testing.assert_array_equal(out["image"][0], out["image"][1])
    assert set(np.unique(out["label"])) <= set(np.unique(label))
    assert out["mask"].dtype == bool
    again = Compose([aug], output_shape=out_shape)(sample, np.random.default_rng(3))
    np.testing.assert_array_equal(out["label"], again["label"])


def test_max_displacement_bounds_the_field():
    for mode, ndim in (("2d", 2), ("3d", 3)):
        aug = Elastic(mode=mode, alpha=16.0, sigma=4.0)
        coef, spacing = coarse_field((20, 40, 40), ndim, aug.sigma, aug.alpha, np.random.default_rng(0))
        field = field_from_coarse_ref(coef, spacing, (20, 40, 40), aug.alpha)
        assert np.abs(field).max() <= aug.max_displacement()
        assert np.abs(coef).max() <= aug.max_displacement()


def test_zero_alpha_is_identity(rng):
    image, label = _volumes(rng, (4, 12, 12))
    out = Elastic(p=1.0, alpha=0.0)({"image": image, "label": label}, rng)
    np.testing.assert_array_equal(out["image"], image)
    np.testing.assert_array_equal(out["label"], label)


def test_uint8_image(rng):
    image = (rng.random((4, 40, 40)) * 255).astype(np.uint8)
    out = Elastic(p=1.0)({"image": image}, rng)
    assert out["image"].dtype == np.uint8


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"alpha": -1}, ValueError, "alpha"),
        ({"alpha": "a"}, TypeError, "alpha"),
        ({"sigma": -0.5}, ValueError, "sigma"),
        ({"mode": "4d"}, ValueError, "mode"),
        ({"order": 2}, ValueError, "order"),
        ({"order": True}, ValueError, "order"),
        ({"p": 2}, ValueError, "`p`"),
    ],
)
def test_bad_params(kwargs, error, match):
    with pytest.raises(error, match=match):
        Elastic(**kwargs)


def test_warp_with_field_bad_input(rng):
    with pytest.raises(ValueError, match="order"):
        warp_with_field(np.zeros((2, 3, 4), np.float32), np.zeros((3, 2, 3, 4)), 3)
    with pytest.raises(ValueError, match="field"):
        warp_with_field(np.zeros((2, 3, 4), np.float32), np.zeros((3, 2, 3, 5)), 1)
