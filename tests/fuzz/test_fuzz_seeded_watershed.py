"""pytc.decode.seeded_watershed (numba) against seeded_watershed_ref (heap): identical labels, as its docstring
says, for uint8 and float landscapes, 2D and 3D, any marker dtype (huge ids included), masks and layouts."""

import numpy as np
import pytest
from fuzz_strategies import LABEL_DTYPES, LAYOUTS, fill, label_arrays, seeds, shapes, size_event, with_layout
from hypothesis import given, note
from hypothesis import strategies as st

from pytc.decode import seeded_watershed
from pytc.decode._reference import seeded_watershed_ref

pytestmark = pytest.mark.fuzz

MAX_SIDE = 12


@st.composite
def cases(draw):
    ndim = draw(st.sampled_from([2, 3]))
    shape = draw(shapes(ndim, MAX_SIDE))
    levels = draw(st.sampled_from([1, 2, 3, 256]))  # few levels: plateaus, the first-in first-out order decides
    palette = sorted({min(255, round(i * 255 / max(1, levels - 1))) for i in range(levels)} | {0, 255})
    levels8 = fill(shape, palette, draw(st.sampled_from(["random", "blocks", "constant"])), draw(seeds), np.uint8)
    # float landscapes in [0, 1] are quantised to 256 levels: k / 255 is level k whatever the rounding rule
    dtype = draw(st.sampled_from([np.uint8, np.uint8, np.float32, np.float64]))
    landscape = levels8 if dtype == np.uint8 else (levels8 / dtype(255)).astype(dtype)
    landscape = with_layout(landscape, draw(st.sampled_from(LAYOUTS)))
    markers = draw(
        label_arrays(shape, LABEL_DTYPES, nonnegative=True, patterns=("sparse", "random", "constant"), name="markers")
    )
    mask = None
    if draw(st.booleans()):
        density = draw(st.sampled_from([0.0, 0.5, 0.85, 1.0]))
        inside = np.random.default_rng(draw(seeds)).random(shape) < density
        mask = with_layout(inside.astype(draw(st.sampled_from([bool, np.uint8]))), draw(st.sampled_from(LAYOUTS)))
    note(f"landscape levels {levels}, dtype {landscape.dtype}, strides {landscape.strides}")
    return landscape, levels8, markers, mask


@given(case=cases())
def test_seeded_watershed_matches_reference(case):
    landscape, levels8, markers, mask = case
    size_event(landscape)
    before = markers.copy()
    out = seeded_watershed(landscape, markers, mask)
    as_3d = (lambda a: a[np.newaxis]) if landscape.ndim == 2 else (lambda a: a)
    full_mask = np.ones(landscape.shape, bool) if mask is None else np.asarray(mask) != 0
    expected = seeded_watershed_ref(as_3d(levels8), as_3d(markers), as_3d(full_mask))[0 if landscape.ndim == 2 else ...]
    assert out.dtype == np.uint64 and out.shape == landscape.shape
    np.testing.assert_array_equal(out, expected.astype(np.uint64))
    seeded = markers != 0
    np.testing.assert_array_equal(out[seeded], markers[seeded].astype(np.uint64))  # seeds keep their ids
    np.testing.assert_array_equal(markers, before)
