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


@pytest.mark.parametrize("cls,arg", [(MisAlignment, "displacement"), (MissingSection, "num_sections"),
                                     (MotionBlur, "kernel_size"), (MotionBlur, "sections")])
def test_bad_parameters(cls, arg):
    with pytest.raises(ValueError, match=arg):
        cls(**{arg: 0})
