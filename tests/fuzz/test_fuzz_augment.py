"""The numba augmentation kernels (and CutBlur's scipy blur) against their references in pytc.augment._reference,
with the comparisons of tests/augment: order 0 (nearest) and integer results exactly, interpolated floats within
the tolerances used there.

The kernels' callers always pass C-contiguous arrays (they copy first), so the kernels get C order here; the
wrapper `warp_with_field` gets every layout. Each new dtype or layout is a new numba compilation (seconds, then
cached on disk), so the dtypes are those the augmentations meet: uint8 (bool masks), uint32 and int64 labels,
float32 images.
"""

import numpy as np
import pytest
from fuzz_strategies import LAYOUTS, fill, seeds, shapes, size_event, with_layout
from hypothesis import given, note
from hypothesis import strategies as st

from pytc.augment._defects import box_blur_axis, missing_part
from pytc.augment._elastic import coarse_field, elastic_2d, elastic_3d, warp_with_field
from pytc.augment._mix import rotated_overlaps, rotation_sources
from pytc.augment._reference import (
    affine_slices_ref,
    blur_cuboid_ref,
    box_blur_axis_ref,
    field_from_coarse_ref,
    missing_part_ref,
    rotated_overlaps_ref,
    warp_with_field_ref,
)
from pytc.augment._warp import affine_slices, rotation_matrix
from pytc.augment.cut import blur_cuboid

pytestmark = pytest.mark.fuzz

MAX_SIDE = 12
# order-0 sources: labels and images (label ids up to +-2**53: scipy's map_coordinates, the reference,
# interpolates in float64)
NEAREST_DTYPES = (np.uint8, np.uint32, np.int64, np.float32)


@st.composite
def images(draw, shape, dtypes=(np.float32,), layouts=("C",), name="image"):
    """Images in [0, 1] (float32), labels (integers with their dtype's extremes, within +-2**53) or bool masks."""
    shape = draw(shape) if isinstance(shape, st.SearchStrategy) else tuple(shape)
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    pattern = draw(st.sampled_from(["random", "blocks", "constant"]))
    seed = draw(seeds)
    if dtype == np.float32:
        values = np.random.default_rng(seed).random(shape, dtype=np.float32)
        if pattern != "random":
            values = fill(shape, [0.0, 1.0, 0.25, 0.5], pattern, seed, np.float32)
    elif dtype == np.bool_:
        values = fill(shape, [False, True], pattern, seed, dtype)
    else:
        info = np.iinfo(dtype)
        values = fill(
            shape, sorted({0, 1, 7, min(int(info.max), 2**53), max(int(info.min), -(2**53))}), pattern, seed, dtype
        )
    layout = draw(st.sampled_from(layouts))
    note(f"{name}: dtype {dtype}, shape {shape}, pattern {pattern}, layout {layout}")
    return with_layout(values, layout)


def assert_resampled_equal(out, ref, order):
    if order == 0:
        np.testing.assert_array_equal(out, ref)
    else:
        np.testing.assert_allclose(out, ref, atol=1e-5)


@st.composite
def matrices(draw, n):
    """n (2, 3) matrices: rotations and zooms about random centres, or any affine map with small coefficients
    (half-integer shifts included: rounding ties)."""
    out = []
    for _ in range(n):
        if draw(st.booleans()):
            angle = draw(st.one_of(st.sampled_from([0.0, np.pi / 2, np.pi, -np.pi / 2]), st.floats(-7, 7)))
            centre = draw(st.tuples(st.floats(-3, 15), st.floats(-3, 15)))
            src_centre = draw(st.tuples(st.floats(-3, 15), st.floats(-3, 15)))
            out.append(rotation_matrix(angle, centre, src_centre, scale=draw(st.floats(0.25, 4))))
        else:
            coefficient = st.one_of(st.sampled_from([0.0, 0.5, 1.0, -1.0]), st.floats(-3, 3))
            shift = st.one_of(st.sampled_from([0.0, 0.5, -0.5, 2.5]), st.floats(-20, 20))
            out.append([[draw(coefficient), draw(coefficient), draw(shift)] for _ in range(2)])
    return np.array(out, np.float64).reshape(n, 2, 3)


@st.composite
def affine_cases(draw):
    order = draw(st.sampled_from([0, 1]))
    src = draw(images(shapes(3, MAX_SIDE, min_side=1), NEAREST_DTYPES if order == 0 else (np.float32,), name="src"))
    out_shape = (src.shape[0],) + draw(shapes(2, MAX_SIDE))
    return src, out_shape, draw(matrices(src.shape[0])), order


@given(case=affine_cases())
def test_affine_slices_matches_map_coordinates(case):
    src, out_shape, mats, order = case
    size_event(src)
    before = src.copy()
    out = np.empty(out_shape, src.dtype)
    affine_slices(src, out, mats, order)
    assert_resampled_equal(out, affine_slices_ref(src, mats, order, out_shape), order)
    np.testing.assert_array_equal(src, before)


@given(
    section=images(shapes(2, MAX_SIDE, min_side=1), name="section"),
    size=st.integers(1, 15),
    axis=st.sampled_from([0, 1]),
)
def test_box_blur_axis_matches_scipy(section, size, axis):
    before = section.copy()
    np.testing.assert_allclose(box_blur_axis(section, size, axis), box_blur_axis_ref(section, size, axis), atol=1e-5)
    np.testing.assert_array_equal(section, before)


@st.composite
def missing_part_cases(draw):
    section = draw(images(shapes(2, MAX_SIDE, min_side=1), name="section"))
    h, w = section.shape
    point = st.tuples(st.integers(-3, h + 2), st.integers(-3, w + 2))
    (r0, c0), (r1, c1) = draw(point), draw(point)
    iterations = draw(st.integers(0, h + w))
    strength = draw(st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0, 6)))
    return section, (r0, c0, r1, c1, iterations, strength)


@given(case=missing_part_cases())
def test_missing_part_matches_scipy(case):
    section, args = case
    before = section.copy()
    np.testing.assert_allclose(missing_part(section, *args), missing_part_ref(section, *args), atol=1e-5)
    np.testing.assert_array_equal(section, before)


@st.composite
def elastic_cases(draw):
    ndim = draw(st.sampled_from([2, 3]))
    order = draw(st.sampled_from([0, 1]))
    shape = draw(shapes(3, MAX_SIDE, min_side=1))
    src = draw(images(shape, NEAREST_DTYPES if order == 0 else (np.float32,), name="src"))
    sigma, alpha = draw(st.floats(0.5, 6)), draw(st.floats(0, 8))
    coef, spacing = coarse_field(shape, ndim, sigma, alpha, np.random.default_rng(draw(seeds)))
    coef *= draw(st.floats(0, 4))  # larger displacements: more clamping at the borders
    return ndim, order, src, np.ascontiguousarray(coef), spacing, alpha


@given(case=elastic_cases())
def test_elastic_kernels_match_map_coordinates(case):
    ndim, order, src, coef, spacing, alpha = case
    size_event(src)
    before = src.copy()
    out = np.empty(src.shape, src.dtype)
    (elastic_3d if ndim == 3 else elastic_2d)(src, out, coef, spacing, alpha, order)
    ref = warp_with_field_ref(src, field_from_coarse_ref(coef, spacing, src.shape, alpha), order)
    if order == 0:
        np.testing.assert_array_equal(out, ref)
    else:
        np.testing.assert_allclose(out, ref, atol=1e-4)
    np.testing.assert_array_equal(src, before)


@st.composite
def field_cases(draw):
    order = draw(st.sampled_from([0, 1]))
    shape = draw(shapes(3, MAX_SIDE, min_side=1))
    volume = draw(images(shape, NEAREST_DTYPES + (bool,) if order == 0 else (np.float32,), LAYOUTS, "volume"))
    rng = np.random.default_rng(draw(seeds))
    kind = draw(st.sampled_from(["normal", "half-integers", "zero"]))
    scale = draw(st.floats(0, 20))
    if kind == "normal":
        field = rng.normal(0, 1, (3,) + shape) * scale
    elif kind == "half-integers":  # rounding ties at order 0
        field = rng.integers(-8, 9, (3,) + shape) / 2.0
    else:
        field = np.zeros((3,) + shape)
    field = with_layout(field, draw(st.sampled_from(LAYOUTS)))
    note(f"field: {kind}, scale {scale}")
    return volume, field, order


@given(case=field_cases())
def test_warp_with_field_matches_map_coordinates(case):
    volume, field, order = case
    size_event(volume)
    before = volume.copy()
    out = warp_with_field(volume, field, order)
    ref = warp_with_field_ref(volume, field, order)
    assert out.dtype == (volume.dtype if order == 0 else np.float32)
    if order == 0:
        np.testing.assert_array_equal(out, ref)
    else:
        np.testing.assert_allclose(out, ref, atol=1e-4)
    np.testing.assert_array_equal(volume, before)


@given(
    shape=shapes(3, MAX_SIDE),
    density=st.sampled_from([0.0, 0.2, 0.5, 1.0]),
    seed=seeds,
    angles=st.lists(st.one_of(st.sampled_from([0.0, np.pi / 2, np.pi, np.pi / 4]), st.floats(-7, 7)), max_size=4),
)
def test_rotated_overlaps_matches_reference(shape, density, seed, angles):
    foreground = np.random.default_rng(seed).random(shape) < density
    size_event(foreground)
    n_z, h, w = shape
    sources = np.stack([rotation_sources(a, (h, w)) for a in angles]) if angles else np.zeros((0, h * w), np.int64)
    moved, overlap = rotated_overlaps(np.ascontiguousarray(foreground).reshape(n_z, h * w).view(np.uint8), sources)
    want_moved, want_overlap = rotated_overlaps_ref(foreground, angles)
    np.testing.assert_array_equal(moved, want_moved)
    np.testing.assert_array_equal(overlap, want_overlap)


@given(
    block=images(shapes(3, MAX_SIDE, min_side=1), layouts=LAYOUTS, name="block"),
    factor=st.tuples(*[st.one_of(st.sampled_from([1.0, 2.0, 8.0]), st.floats(1, 9))] * 3),
)
def test_blur_cuboid_matches_skimage_resize(block, factor):
    before = block.copy()
    np.testing.assert_allclose(blur_cuboid(block, factor), blur_cuboid_ref(block, factor), atol=1e-6)
    np.testing.assert_array_equal(block, before)
