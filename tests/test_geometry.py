"""pytc.geometry: the one sliding-window grid (test-mode VolumeDataset windows and inference) and centred crops."""

import numpy as np
import pytest

from pytc.data import VolumeDataset
from pytc.geometry import center_crop, grid, grid_starts
from pytc.inference import sliding_windows, window_starts
from pytc.sample import IMAGE, LABEL, MASK, POSITION, TARGET, WEIGHT


def test_grid_starts():
    assert grid_starts(10, 4, 2) == [0, 2, 4, 6]
    assert grid_starts(11, 4, 2) == [0, 2, 4, 6, 7]  # the last window pushed back inside
    assert grid_starts(4, 4, 3) == [0]
    with pytest.raises(ValueError, match=r"grid_starts: `window` must be at most the axis size 3; got 4"):
        grid_starts(3, 4, 1)


def test_inference_and_dataset_windows_are_one_grid():
    for size, window, overlap in [(10, 4, 0.5), (11, 4, 0.5), (37, 8, 0.25), (8, 4, 0.0)]:
        assert window_starts(size, window, overlap) == grid_starts(size, window, max(1, int(window * (1 - overlap))))
    shape, window = (10, 30, 40), (4, 16, 16)
    ds = VolumeDataset(np.zeros(shape, np.float32), mode="test", sample_shape=window, stride=(2, 8, 8))
    assert [p[1:] for p in ds.positions] == grid(shape, window, (2, 8, 8)) == sliding_windows(shape, window, 0.5)


def test_center_crop_is_a_view():
    a = np.arange(4 * 6).reshape(4, 6)
    crop = center_crop(a, (2, 2))
    assert np.shares_memory(crop, a) and crop.tolist() == [[8, 9], [14, 15]]


def test_sample_keys():
    assert (IMAGE, LABEL, MASK, TARGET, WEIGHT, POSITION) == ("image", "label", "mask", "target", "weight", "position")
