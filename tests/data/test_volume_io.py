import json

import h5py
import numpy as np
import pytest

from pytc.data import open_volume, read_volume, write_volume
from pytc.data.io import TiledVolume, natural_key
from pytc.testing import require_data

FORMATS = ["v.h5", "v.hdf5", "v.zarr", "v.tif", "v.tiff", "v.npy", "slices"]


@pytest.mark.parametrize("name", FORMATS)
def test_round_trip_and_lazy_regions(tmp_path, name):
    volume = np.random.default_rng(0).integers(0, 255, size=(12, 5, 7), dtype=np.uint8)
    write_volume(tmp_path / name, volume)
    back = read_volume(tmp_path / name)
    assert back.dtype == volume.dtype
    np.testing.assert_array_equal(back, volume)
    lazy = open_volume(tmp_path / name)
    assert tuple(lazy.shape) == volume.shape
    np.testing.assert_array_equal(np.asarray(lazy[2:11, 1:4, 3:7]), volume[2:11, 1:4, 3:7])


def test_slices_sort_naturally(tmp_path):
    volume = np.arange(12 * 4, dtype=np.uint8).reshape(12, 2, 2)
    from PIL import Image

    for z, section in enumerate(volume):
        Image.fromarray(section).save(tmp_path / f"s{z}.png")  # s10 sorts after s9, not after s1
    np.testing.assert_array_equal(read_volume(tmp_path), volume)
    np.testing.assert_array_equal(read_volume(str(tmp_path / "s1*.png")), volume[[1, 10, 11]])
    assert sorted(["a10", "a2", "a1"], key=natural_key) == ["a1", "a2", "a10"]


def test_hdf5_dataset_selection(tmp_path):
    path = tmp_path / "two.h5"
    with h5py.File(path, "w") as f:
        f["raw"] = np.zeros((2, 2), np.uint8)
        f["group/labels"] = np.ones((2, 2), np.uint32)
    np.testing.assert_array_equal(read_volume(path, "group/labels"), 1)
    with pytest.raises(ValueError, match=r"`dataset` must name one.*\['group/labels', 'raw'\]"):
        read_volume(path)
    with pytest.raises(KeyError, match=r"'nope' not in.*found \['group/labels', 'raw'\]"):
        read_volume(path, "nope")


def test_tiled_volume(tmp_path):
    volume = np.random.default_rng(1).integers(0, 9, size=(4, 10, 12), dtype=np.uint16)
    tiles = []
    for y in (0, 5):
        for x in (0, 6):
            name = f"tile_{y}_{x}.npy"
            np.save(tmp_path / name, volume[:, y:y + 5, x:x + 6])
            tiles.append({"path": name, "offset": [0, y, x]})
    (tmp_path / "tiles.json").write_text(json.dumps({"shape": [4, 10, 12], "dtype": "uint16", "tiles": tiles}))
    lazy = open_volume(tmp_path / "tiles.json")
    assert isinstance(lazy, TiledVolume) and lazy.shape == (4, 10, 12)
    np.testing.assert_array_equal(lazy[1:3, 3:8, 4:11], volume[1:3, 3:8, 4:11])  # spans four tiles
    np.testing.assert_array_equal(read_volume(tmp_path / "tiles.json"), volume)
    with pytest.raises(IndexError, match="only contiguous slices"):
        lazy[::2]
    with pytest.raises(ValueError, match="needs 'shape', 'dtype' and 'tiles'"):
        TiledVolume({"shape": [1, 2, 3]})


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist.*holds nothing"):
        read_volume(tmp_path / "missing.h5")
    (tmp_path / "v.xyz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"unknown format '.xyz'.*HDF5"):
        read_volume(tmp_path / "v.xyz")
    with pytest.raises(FileNotFoundError, match=r"no PNG/TIFF slices"):
        read_volume(str(tmp_path / "*.png"))


def test_reads_every_shared_format():
    image = read_volume(require_data("gala_fibsem_mini", "train-image.h5"))
    assert image.shape == (50, 100, 200) and image.dtype == np.uint8
    gt = open_volume(require_data("gala_fibsem_mini", "train-gt.lzf.h5"))  # LZF-compressed HDF5, lazily
    assert gt.shape == (50, 100, 200) and gt[10:12, :5, :5].dtype == np.int32
    labels = read_volume(require_data("gala_snemi_mini_labels_only", "train-labels.tif"))
    assert labels.shape == (32, 160, 160) and len(np.unique(labels)) == 27
    isbi = open_volume(require_data("isbi2012_train", "image"))  # PNG folder, 0..29 sorted numerically
    assert isbi.shape == (30, 512, 512)
    assert [f.rsplit("/", 1)[1] for f in isbi.files[:3]] == ["0.png", "1.png", "2.png"]
    raw = open_volume(require_data("drosophila_vnc_sstem_stack1", "raw"))  # TIFF slices
    assert raw.shape == (20, 1024, 1024) and raw[5:7, :8, :8].shape == (2, 8, 8)
    membranes = read_volume(str(require_data("drosophila_vnc_sstem_stack1", "membranes")) + "/*.png")
    assert membranes.shape == (20, 1024, 1024) and 0.15 < membranes.astype(bool).mean() < 0.25


def test_split_dataset():
    from pytc.data import split_dataset

    assert split_dataset("a/b.h5:raw/x") == ("a/b.h5", "raw/x")
    assert split_dataset("/d/vol.zarr:s0") == ("/d/vol.zarr", "s0")
    assert split_dataset("C:/data/b.h5") == ("C:/data/b.h5", None)
    assert split_dataset("slices/*.png") == ("slices/*.png", None)
    assert split_dataset("b.h5:") == ("b.h5", None)
