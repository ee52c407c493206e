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
            np.save(tmp_path / name, volume[:, y : y + 5, x : x + 6])
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
    with pytest.raises(FileNotFoundError, match=r"`path` does not exist: .*missing.h5$"):
        read_volume(tmp_path / "missing.h5")
    (tmp_path / "v.xyz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"unknown format '.xyz'.*HDF5"):
        read_volume(tmp_path / "v.xyz")
    with pytest.raises(FileNotFoundError, match=r"no PNG/TIFF slices match .*\*\.png$"):
        read_volume(str(tmp_path / "*.png"))
    with pytest.raises(ValueError, match=r"write_volume: unknown format '.png'.*folder of PNG slices"):
        write_volume(tmp_path / "one.png", np.zeros((1, 2, 2), np.uint8))


def test_not_found_names_the_path_and_suggests_near_names_only(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        read_volume("/nope.h5")
    message = str(error.value)
    assert message.startswith("open_volume: `path` does not exist: /nope.h5") and len(message) < 300, message
    assert "holds" not in message  # the root folder is not listed
    for i in range(200):
        (tmp_path / f"unrelated_{i}.txt").write_bytes(b"")
    np.save(tmp_path / "train-image.npy", np.zeros((1, 2, 2)))
    with pytest.raises(FileNotFoundError) as error:
        read_volume(tmp_path / "train_imag.npy")
    message = str(error.value)
    assert message.endswith("; did you mean train-image.npy?") and len(message) < 300 + len(str(tmp_path)), message
    with pytest.raises(FileNotFoundError, match=r"\(nor does its folder\)$"):
        read_volume(tmp_path / "no_folder" / "v.h5")
    write_volume(tmp_path / "v.h5", np.zeros((1, 2, 2)), "raw")
    with pytest.raises(FileNotFoundError, match=r"v.h5:raw; to read dataset 'raw' of .*v.h5, pass it as `dataset`"):
        read_volume(f"{tmp_path}/v.h5:raw")


def test_folder_without_slices_says_what_it_holds(tmp_path):
    for name in ("a.jpg", "b.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    with pytest.raises(FileNotFoundError, match=r"slices in the folder .*; it holds 2 .jpg, 1 .txt, 1 folder$"):
        read_volume(tmp_path)


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _write_then_damage(path, damage):
    volume = np.random.default_rng(2).integers(0, 255, size=(6, 40, 50), dtype=np.uint8)
    if path.suffix == ".png":
        from PIL import Image

        Image.fromarray(volume[0]).save(path)
    else:
        write_volume(path, volume)
    if damage == "truncated":
        _truncate(path)
    else:  # random bytes under the same name
        path.write_bytes(np.random.default_rng(3).bytes(2000))


@pytest.mark.parametrize(
    "name, damage",
    [
        ("v.h5", "truncated"),
        ("v.npy", "truncated"),
        ("v.tif", "truncated"),
        ("v.png", "truncated"),
        ("v.h5", "corrupt"),
        ("v.npy", "corrupt"),
        ("v.tif", "corrupt"),
        ("v.png", "corrupt"),
    ],
)
def test_unreadable_files_name_the_file_and_chain_the_cause(tmp_path, name, damage):
    from pytc.data import VolumeReadError

    path = tmp_path / name
    _write_then_damage(path, damage)
    for read in (read_volume, open_volume):
        with pytest.raises(VolumeReadError) as error:
            np.asarray(read(path))
        assert isinstance(error.value, OSError) and isinstance(error.value, ValueError)  # as callers caught before
        assert str(error.value).startswith(f"open_volume: cannot read {path}; it may be truncated, corrupt")
        cause = error.value.__cause__
        assert cause is not None and not isinstance(cause, VolumeReadError)
        assert f"({type(cause).__name__}: " in str(error.value)


def test_unreadable_slices_and_hdf5_data_name_the_file_and_dataset(tmp_path):
    from pytc.data import VolumeReadError

    write_volume(tmp_path / "stack", np.zeros((3, 4, 5), np.uint8))
    _truncate(tmp_path / "stack" / "1.png")
    stack = open_volume(tmp_path / "stack")  # reads slice 0 only
    with pytest.raises(VolumeReadError, match=r"cannot read .*stack/1.png; it may be truncated") as error:
        stack[1]
    assert isinstance(error.value.__cause__, OSError)
    with pytest.raises(VolumeReadError, match=r"cannot read .*stack/1.png"):
        read_volume(tmp_path / "stack")

    path = tmp_path / "v.h5"  # header intact, compressed data overwritten: the error comes from the read
    write_volume(path, np.random.default_rng(4).integers(0, 255, (4, 64, 64), np.uint8), "raw")
    with h5py.File(path, "r") as f:
        chunk = f["raw"].id.get_chunk_info(0)
    data = bytearray(path.read_bytes())
    data[chunk.byte_offset : chunk.byte_offset + chunk.size] = b"\xff" * chunk.size
    path.write_bytes(bytes(data))
    for dataset in ("raw", None):  # named by the caller, or the file's only dataset
        with pytest.raises(VolumeReadError, match=rf"^read_volume: cannot read dataset 'raw' of {path}; ") as error:
            read_volume(path, dataset)
        assert isinstance(error.value.__cause__, OSError)


def test_unreadable_zarr_names_the_store_and_array(tmp_path):
    from pytc.data import VolumeReadError

    path = tmp_path / "v.zarr"
    write_volume(path, np.random.default_rng(5).integers(0, 255, (4, 8, 8), np.uint8), "raw")
    (path / "zarr.json").write_text("{not json")
    with pytest.raises(VolumeReadError, match=rf"^open_volume: cannot read dataset 'raw' of {path}; ") as error:
        read_volume(path, "raw")
    assert isinstance(error.value.__cause__, ValueError)
    write_volume(path, np.random.default_rng(5).integers(0, 255, (4, 8, 8), np.uint8), "raw")
    for chunk in (p for p in (path / "raw").rglob("*") if p.is_file() and p.name != "zarr.json"):
        chunk.write_bytes(np.random.default_rng(6).bytes(100))
    with pytest.raises(VolumeReadError, match=rf"^read_volume: cannot read dataset 'raw' of {path}; ") as error:
        read_volume(path)  # the only array, found without being named
    assert error.value.__cause__ is not None
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(VolumeReadError, match=r"cannot read .*empty.zarr; "):
        read_volume(tmp_path / "empty.zarr")


def test_zarr_dataset_selection(tmp_path):
    import zarr

    path = tmp_path / "g.zarr"
    group = zarr.open_group(str(path), mode="w")
    group.create_group("s0").create_array("raw", shape=(2, 3, 4), dtype="u1", fill_value=7)
    group.create_array("top", shape=(1, 1, 1), dtype="u1", fill_value=0)
    np.testing.assert_array_equal(read_volume(path, "s0/raw"), 7)  # nested, as split_dataset("v.zarr:s0/raw") gives
    with pytest.raises(ValueError, match=r"must name one of the datasets in .*g.zarr; found \['s0/raw', 'top'\]"):
        read_volume(path)  # two arrays: never pick one silently
    with pytest.raises(KeyError, match=r"dataset 's0/nope' not in .*g.zarr; found \['s0/raw', 'top'\]"):
        read_volume(path, "s0/nope")
    write_volume(tmp_path / "one.zarr", np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(KeyError, match=r"dataset 'raw' not in .*one.zarr, which is one array"):
        read_volume(tmp_path / "one.zarr", "raw")


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_single_image_reads_as_a_one_section_folder(tmp_path, suffix):
    from PIL import Image

    image = np.random.default_rng(7).integers(0, 255, size=(9, 11), dtype=np.uint8)
    (tmp_path / "folder").mkdir()
    Image.fromarray(image).save(tmp_path / f"section{suffix}")
    Image.fromarray(image).save(tmp_path / "folder" / f"section{suffix}")
    single = read_volume(tmp_path / f"section{suffix}")
    assert single.shape == (1, 9, 11) and single.dtype == np.uint8
    if suffix != ".jpg":  # JPEG folders are not slice stacks (lossy); a single JPEG reads all the same
        np.testing.assert_array_equal(single, read_volume(tmp_path / "folder"))
        np.testing.assert_array_equal(single[0], image)
    assert open_volume(tmp_path / f"section{suffix}")[0, 2:4].shape == (2, 11)


def test_a_2d_tiff_round_trips_while_a_one_page_folder_is_one_section(tmp_path):
    image = np.random.default_rng(7).integers(0, 255, size=(9, 11), dtype=np.uint8)
    write_volume(tmp_path / "page.tif", image)
    np.testing.assert_array_equal(read_volume(tmp_path / "page.tif"), image)
    (tmp_path / "folder").mkdir()
    write_volume(tmp_path / "folder" / "0.tif", image)
    np.testing.assert_array_equal(read_volume(tmp_path / "folder"), image[None])


@pytest.mark.real_data
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
