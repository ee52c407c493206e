"""`em_augmentations`, `build_augmentations` and the augmentation registry."""

import numpy as np
import pytest

from pytc import augment
from pytc.augment import (
    Compose,
    Elastic,
    Flip,
    build_augmentation,
    build_augmentations,
    em_augmentations,
)
from pytc.augment.base import AUGMENTATIONS, Augmentation
from pytc.augment.presets import EM_PRESET, augmentation_classes


def test_every_augmentation_is_registered_by_class_name():
    per_sample = {
        name
        for name in augment.__all__
        if isinstance(getattr(augment, name), type)
        and issubclass(getattr(augment, name), Augmentation)
        and name != "Augmentation"
    }
    assert set(AUGMENTATIONS.names()) == per_sample  # Mixup, a batch transform, is not an Augmentation
    assert "Mixup" not in AUGMENTATIONS
    for name in AUGMENTATIONS:
        assert AUGMENTATIONS.get(name).__name__ == name
    assert augmentation_classes() == {name: AUGMENTATIONS.get(name) for name in AUGMENTATIONS}


def test_em_augmentations_builds_the_preset_in_order():
    aug = em_augmentations((8, 32, 32))
    assert isinstance(aug, Compose) and aug.output_shape == (8, 32, 32)
    assert [type(t).__name__ for t in aug.transforms] == list(EM_PRESET)
    assert all(name in AUGMENTATIONS for name in EM_PRESET)  # every preset name resolves
    flip = next(t for t in aug.transforms if isinstance(t, Flip))
    elastic = next(t for t in aug.transforms if isinstance(t, Elastic))
    assert not flip.xz_transpose and elastic.mode == "2d"
    iso = em_augmentations((8, 32, 32), isotropic=True)
    assert next(t for t in iso.transforms if isinstance(t, Flip)).xz_transpose
    assert next(t for t in iso.transforms if isinstance(t, Elastic)).mode == "3d"
    read = aug.input_shape()
    assert all(r >= o for r, o in zip(read, (8, 32, 32)))
    rng = np.random.default_rng(0)
    sample = {"image": rng.random(read).astype(np.float32), "label": rng.integers(0, 5, read).astype(np.uint32)}
    out = aug(sample, rng)
    assert out["image"].shape == out["label"].shape == (8, 32, 32)


def test_em_augmentations_without_output_shape_leaves_it_to_the_caller():
    aug = em_augmentations(None)
    assert aug.output_shape is None
    assert aug.with_output_shape((8, 32, 32)).input_shape() == em_augmentations((8, 32, 32)).input_shape()
    with pytest.raises(ValueError, match="give `output_shape` here or to the constructor"):
        aug.input_shape()


def test_unknown_names_are_errors_that_list_the_known_ones():
    with pytest.raises(ValueError, match=r"`Flipp` is not a known augmentation; the known ones are \[.*'Flip'"):
        build_augmentation("Flipp")
    with pytest.raises(ValueError, match=r"`Mixup` is not a known augmentation"):
        build_augmentation("Mixup")
    with pytest.raises(ValueError, match=r"`Nope` is not a known augmentation"):
        build_augmentations((8, 32, 32), "none", extra=[{"name": "Nope"}])
    with pytest.raises(ValueError, match=r"'Nope' is not in the 'em' preset; it has: Flip, Rotate"):
        build_augmentations((8, 32, 32), skip=["Nope"])
    with pytest.raises(ValueError, match=r"build_augmentations: `preset` must be one of \('em', 'none'\); got 'pc'"):
        build_augmentations((8, 32, 32), "pc")
    with pytest.raises(ValueError, match=r"build_augmentation: Flip: .*unexpected keyword argument 'angle'"):
        build_augmentation("Flip", angle=3)


def test_build_augmentations_skip_params_extra():
    aug = build_augmentations(
        (8, 32, 32),
        skip=["Rotate", "CutNoise"],
        params={"Elastic": {"alpha": 8.0}},
        extra=[{"name": "CopyPaste", "p": 0.2}],
    )
    names = [type(t).__name__ for t in aug.transforms]
    assert names == [n for n in EM_PRESET if n not in ("Rotate", "CutNoise")] + ["CopyPaste"]
    assert next(t for t in aug.transforms if isinstance(t, Elastic)).alpha == 8.0
    assert aug.transforms[-1].p == 0.2


def test_with_output_shape():
    aug = Compose([Flip()])
    assert aug.with_output_shape((4, 8, 8)).output_shape == (4, 8, 8) and aug.output_shape is None
    fixed = Compose([Flip()], output_shape=(4, 8, 8))
    assert fixed.with_output_shape((4, 8, 8)) is fixed
    with pytest.raises(
        ValueError, match=r"`output_shape` must be this pipeline's output_shape \(4, 8, 8\); got \(4, 8, 9"
    ):
        fixed.with_output_shape((4, 8, 9))


def test_probability_of_the_wrong_kind_is_a_type_error():
    with pytest.raises(TypeError, match=r"Flip: `p` must be a number; got 'half'"):
        Flip(p="half")
    with pytest.raises(ValueError, match=r"Flip: `p` must be a probability in \[0, 1\]; got -0.5"):
        Flip(p=-0.5)
