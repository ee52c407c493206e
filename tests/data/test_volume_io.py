import h5py
import numpy as np
import pytest

from pytc.data import read_volume, write_volume
from pytc.testing import require_data


@pytest.mark.parametrize("name", ["v.h5", "v.hdf5", "v.tif", "v.tiff", "v.npy"])
def test_round_trip(tmp_path, name):
    volume = np.random.default_rng(0).integers(0, 1000, size=(3, 4, 5), dtype=np.uint32)
    write_volume(tmp_path / name, volume)
    back = read_volume(tmp_path / name)
    assert back.dtype == volume.dtype
    np.testing.assert_array_equal(back, volume)


def test_hdf5_dataset_selection(tmp_path):
    path = tmp_path / "two.h5"
    with h5py.File(path, "w") as f:
        f["raw"] = np.zeros((2, 2), np.uint8)
        f["group/labels"] = np.ones((2, 2), np.uint32)
    np.testing.assert_array_equal(read_volume(path, "group/labels"), 1)
    with pytest.raises(ValueError, match=r"`dataset` must name one.*\['group/labels', 'raw'\]"):
        read_volume(path)
    with pytest.raises(KeyError, match=r"'nope' not in"):
        read_volume(path, "nope")


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_volume(tmp_path / "missing.h5")
    (tmp_path / "v.xyz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"unknown format '.xyz'.*\.h5"):
        read_volume(tmp_path / "v.xyz")


def test_reads_real_lzf_hdf5_and_tiff():
    image = read_volume(require_data("gala_fibsem_mini", "train-image.h5"))
    assert image.shape == (50, 100, 200) and image.dtype == np.uint8
    labels = read_volume(require_data("gala_snemi_mini_labels_only", "train-labels.tif"))
    assert labels.shape == (32, 160, 160) and labels.dtype == np.uint8
    assert len(np.unique(labels)) == 27
