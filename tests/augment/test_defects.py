import numpy as np
import pytest

from pytc.augment import Compose
from pytc.augment._defects import box_blur_axis
from pytc.augment._reference.defects import box_blur_axis_ref
from pytc.augment.defects import MisAlignment, MissingSection, MotionBlur


@pytest.mark.parametrize("size", [1, 2, 5, 11])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("shape", [(1, 1), (3, 17), (20, 9)])
def test_box_blur_matches_reference(size, axis, shape):
    section = np.random.default_rng(size).random(shape).astype(np.float32)
    before = section.copy()
    np.testing.assert_allclose(box_blur_axis(section, size, axis), box_blur_axis_ref(section, size, axis), atol=1e-5)
    np.testing.assert_array_equal(section, before)


def _sample(shape=(8, 40, 40)):
    rng = np.random.default_rng(1)
    return {"image": rng.random(shape).astype(np.float32), "label": rng.integers(0, 5, shape).astype(np.uint32)}


def test_missing_section_removes_inner_sections():
    s = _sample()
    out = MissingSection(p=1)(s, np.random.default_rng(0))
    assert out["image"].shape == (6, 40, 40)
    np.testing.assert_array_equal(out["image"][0], s["image"][0])
    np.testing.assert_array_equal(out["image"][-1], s["image"][-1])
    kept = [z for z in range(8) if any(np.array_equal(s["image"][z], o) for o in out["image"])]
    assert len(kept) == 6


def test_misalignment_shapes_and_labels_follow():
    aug = Compose([MisAlignment(p=1)], output_shape=(8, 24, 24))
    shape = aug.input_shape()
    assert shape == (8, 40, 40)
    s = _sample(shape)
    s["label"] = (s["image"] * 1000).astype(np.uint32)
    out = aug(s, np.random.default_rng(3))
    np.testing.assert_array_equal(out["label"], (out["image"] * 1000).astype(np.uint32))


def test_motion_blur_changes_only_sections():
    s = _sample()
    out = MotionBlur(p=1)(s, np.random.default_rng(0))
    changed = [z for z in range(8) if not np.array_equal(out["image"][z], s["image"][z])]
    assert len(changed) == 2
    np.testing.assert_array_equal(out["label"], s["label"])


@pytest.mark.parametrize(
    "cls,arg",
    [
        (MisAlignment, "displacement"),
        (MissingSection, "num_sections"),
        (MotionBlur, "kernel_size"),
        (MotionBlur, "sections"),
    ],
)
def test_bad_parameters(cls, arg):
    with pytest.raises(ValueError, match=arg):
        cls(**{arg: 0})


# --- MissingParts and the rotation variant of MisAlignment ---------------------------------------------

from pytc.augment import Compose as _Compose  # noqa: E402
from pytc.augment import MisAlignment as _MisAlignment  # noqa: E402
from pytc.augment import MissingParts  # noqa: E402
from pytc.augment._defects import missing_part  # noqa: E402
from pytc.augment._reference.defects import missing_part_ref  # noqa: E402
from pytc.testing import read_gala as _read_gala  # noqa: E402


@pytest.mark.parametrize("line", [(0, 3, 39, 30), (5, 0, 20, 47), (0, 1, 39, 46), (12, 0, 12, 47)])
@pytest.mark.parametrize("iterations, strength", [(0, 0.0), (3, 0.0), (7, 2.5), (40, 1.0)])
def test_missing_part_kernel_matches_scipy(line, iterations, strength):
    section = np.random.default_rng(0).random((40, 48)).astype(np.float32)
    before = section.copy()
    out = missing_part(section, *line, iterations, strength)
    np.testing.assert_allclose(out, missing_part_ref(section, *line, iterations, strength), atol=1e-5)
    np.testing.assert_array_equal(section, before)


def test_missing_parts_damages_image_only_and_spaces_sections():
    rng = np.random.default_rng(1)
    image = rng.random((30, 40, 40)).astype(np.float32)
    label = np.arange(30 * 40 * 40, dtype=np.uint32).reshape(30, 40, 40)
    out = MissingParts(p=1.0, deform_ratio=1.0, iterations=2)({"image": image, "label": label}, rng)
    np.testing.assert_array_equal(out["label"], label)
    damaged = [z for z in range(30) if not np.array_equal(out["image"][z], image[z])]
    assert damaged == list(range(0, 30, 3))  # every third section when each one is chosen
    for z in damaged:
        filled = np.isclose(out["image"][z], image[z].mean())
        assert 0.05 < filled.mean() < 0.5  # a band, filled with the section's mean


def test_missing_parts_bad_parameters():
    for kwargs, match in [
        ({"iterations": -1}, "`iterations` must be in"),
        ({"deform_ratio": 2}, "`deform_ratio`"),
        ({"deformation_strength": -3}, "`deformation_strength`"),
    ]:
        with pytest.raises(ValueError, match=match):
            MissingParts(**kwargs)


@pytest.mark.real_data
def test_rotated_misalignment_keeps_labels_and_alignment():
    image, gt = _read_gala("train-image"), _read_gala("train-gt")
    aug = _Compose([_MisAlignment(p=1.0, rotate_ratio=1.0)], output_shape=(12, 60, 60))
    needed = aug.input_shape()
    sample = {
        "image": image[:12, : needed[1], : needed[2]],
        "label": gt[:12, : needed[1], : needed[2]].astype(np.uint32),
    }
    moved = 0
    for seed in range(4):
        out = aug(sample, np.random.default_rng(seed))
        assert set(np.unique(out["label"])) <= set(np.unique(sample["label"]))
        membrane, inside = out["image"][out["label"] == 0], out["image"][out["label"] > 0]
        assert membrane.mean() < inside.mean() - 10
        plain = _Compose([], output_shape=(12, 60, 60))(sample, np.random.default_rng(0))
        moved += not np.array_equal(out["label"], plain["label"])
    assert moved >= 3
    with pytest.raises(ValueError, match=r"`rotate_ratio` must be in \[0, 1\]"):
        _MisAlignment(rotate_ratio=1.5)
