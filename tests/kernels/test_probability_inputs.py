"""Kernels that take probabilities reject logits, infinities and NaN with one error that says what to do."""

import numpy as np
import pytest

from pytc.decode import boundary_to_affinity
from pytc.kernels import agglomerate, mutex_watershed, watershed
from pytc.testing import read_gala
from pytc.validation import as_probabilities

NEAREST = [(-1, 0, 0), (0, -1, 0), (0, 0, -1)]
KERNELS = {
    "watershed": lambda aff: watershed(aff),
    "agglomerate": lambda aff: agglomerate(aff, [0.5]),
    "mutex_watershed": lambda aff: mutex_watershed(aff, NEAREST),
    "boundary_to_affinity": lambda aff: boundary_to_affinity(aff[0]),
}


@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, -1e-6, 1.0 + 1e-6, 3.0])
def test_values_outside_the_unit_interval_are_rejected(name, value):
    aff = np.random.default_rng(1).random((3, 6, 7, 8), dtype=np.float32)
    aff[0, 2, 3, 4] = value
    before = aff.copy()
    argument = "boundary" if name == "boundary_to_affinity" else "affinities"
    with pytest.raises(ValueError, match=rf"{name}: `{argument}` must be probabilities in \[0, 1\].*activation"):
        KERNELS[name](aff)
    np.testing.assert_array_equal(aff, before)  # the input is left as it was


@pytest.mark.parametrize("name", KERNELS)
def test_the_bounds_are_probabilities(name):
    aff = np.random.default_rng(2).integers(0, 2, (3, 5, 6, 7)).astype(np.float32)  # only 0 and 1
    KERNELS[name](aff)
    KERNELS[name](np.zeros((3, 0, 4, 4), np.float32))  # empty volumes have nothing to reject


@pytest.mark.real_data
def test_logits_of_a_real_classifier_are_rejected_and_their_sigmoid_accepted():
    boundary = read_gala("test-p1").astype(np.float32)  # a real boundary probability map
    boundary = boundary / boundary.max() if boundary.max() > 1 else boundary
    logits = np.log(np.clip(boundary, 1e-4, 1 - 1e-4) / np.clip(1 - boundary, 1e-4, 1))
    with pytest.raises(ValueError, match="apply|activation"):
        watershed(boundary_to_affinity(logits))
    fragments = watershed(boundary_to_affinity(1 / (1 + np.exp(-logits))))
    assert fragments.max() > 1


def test_the_first_bad_value_is_named_with_a_summary():
    values = np.full((4, 5), 0.5, np.float32)
    values[1, 2], values[3, 4] = -2.0, np.nan
    with pytest.raises(ValueError) as error:
        as_probabilities(values, "f", "x")
    assert "got -2.0 at [1, 2] (2 value(s) outside [0, 1] or NaN; finite values in [-2, 0.5])" in str(error.value)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_types_are_checked_after_conversion(dtype):
    np.testing.assert_array_equal(as_probabilities(np.array([0, 0.5, 1], dtype), "f", "x"), [0, 0.5, 1])
    with pytest.raises(ValueError, match="got 1.5"):
        as_probabilities(np.array([0, 1.5], dtype), "f", "x")
    assert as_probabilities(np.array([0, 255], np.uint8), "f", "x").tolist() == [0, 1]
    with pytest.raises(TypeError, match="`x` must be probabilities"):
        as_probabilities(np.array([0, 1]), "f", "x")
