"""components_blockwise: the whole volume's connected components (cc3d) up to relabelling, for every connectivity,
input format and dtype; ids in a fixed order; resumable; independent of the worker count; clear errors."""

import os

import cc3d
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from pytc.blockwise import components_blockwise
from pytc.data import write_volume
from pytc.testing import gala_spec, read_gala

BLOCKS = (9, 16, 17)  # uneven: the volumes' sides are no multiples of it


def blobs(seed, shape=(24, 37, 41)):
    """Random smooth blobs, a quarter of the voxels above 0.5: many components, touching across block faces."""
    noise = gaussian_filter(np.random.default_rng(seed).random(shape), 1.0)
    return (0.5 + (noise - np.quantile(noise, 0.75)) / (4 * noise.std())).astype(np.float32)


def write_input(folder, array, kind):
    path = folder / ("input.zarr" if kind == "zarr" else "input.h5")
    write_volume(path, array, "volume", compression=None)
    return f"{path}:volume"


def read_output(out, name="components"):
    import zarr

    return zarr.open_group(str(out), mode="r")[name][...]


def assert_same_partition(result, expected):
    """`result` labels the voxels of `expected` alike, with ids 1..n."""
    assert result.shape == expected.shape and result.dtype == np.uint64
    np.testing.assert_array_equal(result != 0, expected != 0)
    ids = np.unique(result[result != 0])
    n = len(np.unique(expected[expected != 0]))
    np.testing.assert_array_equal(ids, np.arange(1, n + 1))
    pairs = np.unique(np.stack([result[expected != 0], expected[expected != 0]]), axis=1)
    assert pairs.shape[1] == n  # one result id per expected id, and (ids: n of them) one expected id per result id


@pytest.mark.parametrize(
    ("connectivity", "kind", "dtype"),
    [(6, "zarr", np.float32), (18, "hdf5", np.uint16), (26, "zarr", bool)],
)
def test_equals_whole_volume_components(client, tmp_path, connectivity, kind, dtype):
    probabilities = blobs(connectivity)
    foreground = probabilities > 0.5
    if dtype is bool:
        volume = foreground
    elif dtype is np.uint16:  # labels: every nonzero label is foreground, whatever its value
        volume = (foreground * np.random.default_rng(0).integers(1, 60000, foreground.shape)).astype(np.uint16)
    else:
        volume = probabilities.astype(dtype)
    spec = write_input(tmp_path, volume, kind)
    out = tmp_path / "out.zarr"
    summary = components_blockwise(
        spec, out, connectivity=connectivity, block_shape=BLOCKS, client=client, progress=False
    )
    expected = cc3d.connected_components(foreground, connectivity=connectivity)
    result = read_output(out)
    assert_same_partition(result, expected)
    assert summary["components"] == expected.max() > 20 and summary["blocks"] == 3 * 3 * 3
    assert summary["pairs"] > 0  # components did cross block faces
    # the block split matters: the blocks' own components are more than the volume's
    assert sum(cc3d.connected_components(foreground[b], connectivity=connectivity).max() for b in _blocks(result)) > (
        expected.max()
    )
    # a smaller connectivity splits some of these components: the test tells them apart
    if connectivity > 6:
        assert cc3d.connected_components(foreground, connectivity=6).max() > expected.max()
    assert_ids_in_order_of_smallest_label(result, tmp_path / "out.zarr.work")


def assert_ids_in_order_of_smallest_label(result, work):
    """The final ids number the components in order of their smallest label in the blocks' labelling."""
    import zarr

    block_labels = zarr.open_group(str(work / "labels.zarr"), mode="r")["labels"][...]
    smallest = np.full(int(result.max()) + 1, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(smallest, result[result != 0], block_labels[result != 0])
    assert np.all(smallest[2:] > smallest[1:-1])
    assert len(np.unique(block_labels)) > result.max() + 1  # some components were joined across blocks


def _blocks(volume):
    from pytc.blockwise import BlockGrid

    return [block.slices for block in BlockGrid(volume.shape, BLOCKS)]


@pytest.mark.real_data
@pytest.mark.parametrize(("connectivity", "foreground"), [(26, "membranes"), (6, "cells")])
def test_gala(client, tmp_path, connectivity, foreground):
    """Membranes (test-p1 > 0.5, read from the HDF5 file) and cells (test-p1 < 0.5, a uint8 mask in zarr)."""
    p = read_gala("test-p1")
    if foreground == "membranes":
        spec, mask = gala_spec("test-p1"), p > 0.5
    else:
        mask = p < 0.5
        spec = write_input(tmp_path, mask.astype(np.uint8), "zarr")
    out = tmp_path / "out.zarr"
    summary = components_blockwise(
        spec, out, connectivity=connectivity, block_shape=(20, 40, 80), client=client, progress=False
    )
    expected = cc3d.connected_components(mask, connectivity=connectivity)
    assert_same_partition(read_output(out), expected)
    assert summary["components"] == expected.max() > 10 and summary["pairs"] > 100


def _records(work, step):
    return {path.name: os.stat(path).st_mtime_ns for path in (work / step).glob("*.npz")}


def test_resume(client, tmp_path):
    import zarr

    spec = write_input(tmp_path, blobs(2), "zarr")
    out, work = tmp_path / "out.zarr", tmp_path / "work"
    args = {"connectivity": 18, "block_shape": BLOCKS, "client": client, "progress": False, "work": work}
    first = components_blockwise(spec, out, **args)
    expected = read_output(out)
    assert all(first[f"{step}_step"]["task_seconds"] > 0 for step in ("label", "pairs", "merge", "relabel"))

    second = components_blockwise(spec, out, **args)  # every block is recorded: no task works
    for step in ("label", "pairs", "merge", "relabel"):
        assert second[f"{step}_step"]["task_seconds"] == 0
    assert second["components"] == first["components"]
    np.testing.assert_array_equal(read_output(out), expected)

    # one block's relabelling lost (its record deleted, its output wiped): only that block runs again
    before = _records(work, "relabel")
    (work / "relabel" / "21.npz").unlink()
    from pytc.blockwise import BlockGrid

    block = BlockGrid(expected.shape, BLOCKS)[21]
    assert expected[block.slices].any()
    zarr.open_group(str(out), mode="r+")["components"][block.slices] = 0
    third = components_blockwise(spec, out, **args)
    assert third["relabel_step"]["task_seconds"] > 0
    assert all(third[f"{step}_step"]["task_seconds"] == 0 for step in ("label", "pairs", "merge"))
    after = _records(work, "relabel")
    assert after.keys() == before.keys()
    assert {k for k in before if before[k] != after[k]} == {"21.npz"}
    np.testing.assert_array_equal(read_output(out), expected)

    # other parameters: refused, unless overwrite
    with pytest.raises(ValueError, match="other parameters"):
        components_blockwise(spec, out, **{**args, "connectivity": 6})
    components_blockwise(spec, out, **{**args, "connectivity": 6}, overwrite=True)
    assert_same_partition(read_output(out), cc3d.connected_components(blobs(2) > 0.5, connectivity=6))


def test_independent_of_worker_count(client, tmp_path):
    spec = write_input(tmp_path, blobs(3), "hdf5")
    args = {"connectivity": 26, "block_shape": BLOCKS, "progress": False}
    two = components_blockwise(spec, tmp_path / "two.zarr", client=client, **args)
    # client=None: a LocalCluster of its own, one worker
    one = components_blockwise(spec, tmp_path / "one.zarr", workers=1, memory_limit="1GiB", **args)
    assert one["components"] == two["components"]
    np.testing.assert_array_equal(read_output(tmp_path / "one.zarr"), read_output(tmp_path / "two.zarr"))


def test_empty_and_full_blocks(client, tmp_path):
    volume = np.zeros((9, 11, 13), np.uint8)
    volume[:5] = 7  # blocks z 0..3 full, 4 cut, 5.. empty: one component
    out = tmp_path / "out.zarr"
    summary = components_blockwise(
        write_input(tmp_path, volume, "zarr"), out, block_shape=(4, 5, 6), client=client, progress=False
    )
    np.testing.assert_array_equal(read_output(out), (volume != 0).astype(np.uint64))
    assert summary["components"] == 1


def test_errors(tmp_path):
    spec = write_input(tmp_path, blobs(4, (5, 6, 7)), "zarr")
    out = tmp_path / "out.zarr"
    with pytest.raises(ValueError, match=r"components_blockwise: `connectivity` must be 6, 18 or 26; got 8"):
        components_blockwise(spec, out, connectivity=8)
    with pytest.raises(ValueError, match=r"`block_shape` must be three integers >= 1"):
        components_blockwise(spec, out, block_shape=(0, 4, 4))
    with pytest.raises(ValueError, match=r"`block_shape` must be three integers >= 1"):
        components_blockwise(spec, out, block_shape=(4, 4))
    with pytest.raises(ValueError, match=r"`out` must be a zarr group"):
        components_blockwise(spec, tmp_path / "out.h5")
    with pytest.raises(ValueError, match=r"`threshold` must be a number"):
        components_blockwise(spec, out, threshold="high")
    flat = write_input(tmp_path / "flat", np.zeros((6, 7), np.uint8), "zarr")
    with pytest.raises(ValueError, match=r"`volume` must be a volume of shape \(Z, Y, X\); got \(6, 7\)"):
        components_blockwise(flat, out)
    assert not out.exists()  # refused before anything was written
