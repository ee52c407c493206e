"""Every augmentation exported by pytc.augment, run through the same contract checks.

New augmentations are picked up from `pytc.augment.__all__` (default parameters, p=1).
"""

import inspect

import numpy as np
import pytest

import pytc.augment as augment
from pytc.augment import Augmentation, Compose
from pytc.testing import read_gala

AUGMENTATIONS = sorted(
    name
    for name in augment.__all__
    if inspect.isclass(getattr(augment, name))
    and issubclass(getattr(augment, name), Augmentation)
    and getattr(augment, name) is not Augmentation
)
OUTPUT = (8, 24, 24)


def make(name):
    cls = getattr(augment, name)
    return cls(p=1.0)


def synthetic_sample(rng, dtype=np.float32, channels=None, shape=(12, 48, 48)):
    label = np.repeat(np.repeat(np.repeat(rng.integers(1, 50, (3, 6, 6)), 4, 0), 8, 1), 8, 2)[: shape[0]]
    label = label.astype(np.uint32)
    label[label % 2 == 0] = 0  # about half background, as with sparse objects (CopyPaste needs some)
    image = (rng.random(shape) * 0.2 + 0.4 + 0.1 * (label % 3)).astype(np.float32)
    if dtype == np.uint8:
        image = (image * 255).astype(np.uint8)
    if channels:
        image = np.stack([image] * channels)
    return {"image": image, "label": label, "mask": label % 5 != 0, "meta": "kept"}


def run(name, sample, seed):
    aug = Compose([make(name)], output_shape=OUTPUT)
    needed = aug.input_shape()
    crop = {
        k: v[(Ellipsis,) + tuple(slice(0, n) for n in needed)] if isinstance(v, np.ndarray) else v
        for k, v in sample.items()
    }
    return aug(crop, np.random.default_rng(seed))


@pytest.mark.parametrize("name", AUGMENTATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_contract(rng, name, dtype):
    sample = synthetic_sample(rng, dtype)
    before = {k: v.copy() for k, v in sample.items() if isinstance(v, np.ndarray)}
    out = run(name, sample, seed=5)
    assert out["image"].shape == OUTPUT and out["image"].dtype == dtype
    assert out["label"].shape == OUTPUT and out["label"].dtype == np.uint32
    assert out["mask"].shape == OUTPUT and out["mask"].dtype == bool
    assert out["meta"] == "kept"
    # labels are never interpolated: ids after are a subset of ids before (0 may be a declared fill)
    assert set(np.unique(out["label"])) <= set(np.unique(sample["label"])) | {0}
    for key, value in before.items():  # inputs untouched
        np.testing.assert_array_equal(sample[key], value)
    again = run(name, sample, seed=5)
    for key in ("image", "label", "mask"):  # reproducible for a seed
        np.testing.assert_array_equal(out[key], again[key])


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_seeds_differ(rng, name):
    sample = synthetic_sample(rng)
    outputs = [run(name, sample, seed)["image"] for seed in range(6)]
    assert any(not np.array_equal(outputs[0], other) for other in outputs[1:])


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_channels_share_one_transform(rng, name):
    sample = synthetic_sample(rng, channels=2)
    out = run(name, sample, seed=3)
    assert out["image"].shape == (2,) + OUTPUT
    np.testing.assert_array_equal(out["image"][0], out["image"][1])


@pytest.mark.real_data
@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_image_and_label_stay_aligned_on_real_data(name):
    image, gt = read_gala("train-image"), read_gala("train-gt")
    sample = {"image": image[:20, :96, :96], "label": gt[:20, :96, :96].astype(np.uint32)}
    aug = Compose([make(name)], output_shape=(12, 48, 48))
    needed = aug.input_shape()
    sample = {k: v[tuple(slice(0, n) for n in needed)] for k, v in sample.items()}
    for seed in range(3):
        out = aug(sample, np.random.default_rng(seed))
        membrane, inside = out["image"][out["label"] == 0], out["image"][out["label"] > 0]
        # dark membranes under the boundary label, as before augmenting (72 vs 154 on this volume)
        assert membrane.mean() < inside.mean() - 10, (name, seed)


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_bad_probability(name):
    with pytest.raises(ValueError, match=r"`p` must be a probability in \[0, 1\]; got 1.5"):
        getattr(augment, name)(p=1.5)
