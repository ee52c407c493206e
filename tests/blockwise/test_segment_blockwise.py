"""segment_blockwise against the whole-volume kernels: identical with whole-volume fragments, within 0.01 adapted
Rand error with blockwise ones; resume, schedule independence, a killed worker, the command and its errors."""

import os
import signal
import threading
import time

import numpy as np
import pytest

from pytc.blockwise import BlockGrid, segment_blockwise, segmentation_name
from pytc.blockwise.agglomerate import PIECES, fragments_task, graph_task, merge_task, relabel_task
from pytc.blockwise.quality import face_splits
from pytc.blockwise.store import JobFolder
from pytc.data import read_volume, write_volume
from pytc.decode import boundary_to_affinity
from pytc.kernels import agglomerate, seg_to_affinity, watershed
from pytc.metrics import adapted_rand
from pytc.synthetic import random_segmentation
from pytc.testing import read_gala

THRESHOLDS = [0.3, 0.5, 0.7]


@pytest.fixture(scope="module")
def gala(tmp_path_factory):
    """gala test-p1's affinities (zarr float32, HDF5 uint8) and whole-volume fragments."""
    folder = tmp_path_factory.mktemp("gala")
    affinities = boundary_to_affinity(read_gala("test-p1").astype(np.float32))
    write_volume(folder / "aff.zarr", affinities, "aff")
    quantized = np.round(affinities * 255).astype(np.uint8)
    write_volume(folder / "aff.h5", quantized, "aff")
    fragments = watershed(affinities)
    write_volume(folder / "frag.zarr", fragments, "frag")
    return {"folder": folder, "aff": affinities, "aff8": quantized, "fragments": fragments}


def _segmentations(out, thresholds=THRESHOLDS):
    return [read_volume(out, segmentation_name(t)) for t in thresholds]


@pytest.mark.real_data
@pytest.mark.parametrize("scoring", ["mean", "quantile-50-histogram"])
def test_whole_volume_fragments_give_agglomerate_exactly(gala, client, tmp_path, scoring):
    folder = gala["folder"]
    summary = segment_blockwise(
        f"{folder}/aff.zarr:aff",
        tmp_path / "out.zarr",
        THRESHOLDS,
        fragments=f"{folder}/frag.zarr:frag",
        block_shape=(16, 32, 64),
        scoring=scoring,
        client=client,
        progress=False,
    )
    assert summary["blocks"] == 4 * 4 * 4 and "fragments" not in summary
    whole = agglomerate(gala["aff"], THRESHOLDS, fragments=gala["fragments"], scoring=scoring)
    for expected, got in zip(whole, _segmentations(tmp_path / "out.zarr")):
        np.testing.assert_array_equal(got, expected)  # labels included


@pytest.mark.real_data
def test_whole_volume_fragments_uint8_hdf5(gala, client, tmp_path):
    folder = gala["folder"]
    segment_blockwise(
        f"{folder}/aff.h5:aff",
        tmp_path / "out.zarr",
        [0.5],
        fragments=f"{folder}/frag.zarr:frag",
        block_shape=(25, 50, 64),
        client=client,
        progress=False,
    )
    (expected,) = agglomerate(gala["aff8"], [0.5], fragments=gala["fragments"])
    np.testing.assert_array_equal(read_volume(tmp_path / "out.zarr", segmentation_name(0.5)), expected)


@pytest.mark.real_data
def test_blockwise_fragments_within_001_adapted_rand(gala, client, tmp_path):
    """The default halo: within 0.01 adapted Rand error of the whole volume's result, no segment cut at a face."""
    folder = gala["folder"]
    summary = segment_blockwise(
        f"{folder}/aff.zarr:aff",
        tmp_path / "out.zarr",
        THRESHOLDS,
        block_shape=(16, 32, 64),
        client=client,
        progress=False,
    )
    assert summary["stitched"] > 0 and summary["fragments"] > summary["nodes"]
    fragments = read_volume(tmp_path / "out.zarr", "fragments")  # the pieces, stitched
    assert adapted_rand(fragments, gala["fragments"]) <= 0.01
    assert len(np.unique(fragments)) - 1 == summary["nodes"] < summary["fragments"]
    whole = agglomerate(gala["aff"], THRESHOLDS, fragments=gala["fragments"])
    for expected, got in zip(whole, _segmentations(tmp_path / "out.zarr")):
        assert adapted_rand(got, expected) <= 0.01
        assert face_splits(got, expected, (16, 32, 64)) == 0
        assert set(np.unique(got)) <= set(np.unique(fragments))  # segments carry fragment ids


def test_random_volume_uneven_blocks(client, tmp_path):
    labels = random_segmentation((40, 44, 52), n_segments=60, seed=3)
    rng = np.random.default_rng(0)
    affinities = np.clip(seg_to_affinity(labels).astype(np.float32) * 0.8 + rng.random((3, 40, 44, 52)) * 0.2, 0, 1)
    affinities = affinities.astype(np.float32)
    fragments = watershed(affinities)
    write_volume(tmp_path / "in.zarr", affinities, "aff")
    write_volume(tmp_path / "frag.h5", fragments, "frag")
    segment_blockwise(
        f"{tmp_path}/in.zarr:aff",
        tmp_path / "out.zarr",
        [0.2, 0.6],
        fragments=f"{tmp_path}/frag.h5:frag",
        block_shape=(13, 17, 19),
        client=client,
        progress=False,
    )
    for expected, got in zip(
        agglomerate(affinities, [0.2, 0.6], fragments=fragments), _segmentations(tmp_path / "out.zarr", [0.2, 0.6])
    ):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.real_data
def test_resume_skips_recorded_blocks(gala, client, tmp_path):
    folder = gala["folder"]
    kwargs = dict(block_shape=(25, 50, 100), halo=(4, 8, 8), client=client, progress=False)
    out = tmp_path / "out.zarr"
    first = segment_blockwise(f"{folder}/aff.zarr:aff", out, [0.5], **kwargs)
    before = _segmentations(out, [0.5])[0]
    again = segment_blockwise(f"{folder}/aff.zarr:aff", out, [0.5], **kwargs)
    for step in ("fragments_step", "graph_step", "merge_step", "relabel_step"):
        assert first[step]["task_seconds"] > 0 and again[step]["task_seconds"] == 0
    # one block's graph record and the merge lost (e.g. a job stopped there): only they run again
    job = JobFolder(first["work"])
    job.record_path("graph", 3).unlink()
    job.record_path("merge", "table").unlink()
    for i in range(first["blocks"]):
        job.record_path("relabel", i).unlink()
    third = segment_blockwise(f"{folder}/aff.zarr:aff", out, [0.5], **kwargs)
    assert third["fragments_step"]["task_seconds"] == 0
    assert third["graph_step"]["task_seconds"] > 0 and third["merge_step"]["task_seconds"] > 0
    np.testing.assert_array_equal(_segmentations(out, [0.5])[0], before)
    with pytest.raises(ValueError, match=r"other parameters \(thresholds differ\).*overwrite"):
        segment_blockwise(f"{folder}/aff.zarr:aff", out, [0.4], **kwargs)
    segment_blockwise(f"{folder}/aff.zarr:aff", out, [0.4], overwrite=True, **kwargs)
    assert read_volume(out, segmentation_name(0.4)).any()


@pytest.mark.real_data
def test_result_does_not_depend_on_the_schedule(gala, client, tmp_path):
    """The tasks run in reverse order in this process give the cluster's result."""
    folder = gala["folder"]
    kwargs = dict(block_shape=(25, 50, 64), halo=(4, 8, 8))
    segment_blockwise(f"{folder}/aff.zarr:aff", tmp_path / "a.zarr", [0.5], client=client, progress=False, **kwargs)
    # the same job, its steps run by hand in reverse block order (outputs created by a first call on no blocks)
    out = tmp_path / "b.zarr"
    shape, grid = gala["aff"].shape[1:], BlockGrid(gala["aff"].shape[1:], kwargs["block_shape"])
    from pytc.blockwise.volumes import create_output

    for name in ("fragments", segmentation_name(0.5)):
        create_output(out, name, shape, np.uint64, kwargs["block_shape"], overwrite=True)
    create_output(tmp_path / "b.work" / PIECES, "pieces", shape, np.uint64, kwargs["block_shape"], overwrite=True)
    pieces = str(tmp_path / "b.work" / PIECES)
    common = dict(shape=shape, block_shape=kwargs["block_shape"], work=str(tmp_path / "b.work"))
    order = list(range(len(grid)))[::-1]
    ws = dict(low=0.0001, high=0.9999, size_threshold=64, dust=16, threads=1)
    for i in order:
        fragments_task(
            i, affinities=f"{folder}/aff.zarr:aff", pieces=pieces, halo=kwargs["halo"], watershed_args=ws, **common
        )
    for i in order:
        graph_task(
            i,
            affinities=f"{folder}/aff.zarr:aff",
            fragments=f"{pieces}:pieces",
            scoring="mean",
            init_with_max=True,
            stitch=True,
            **common,
        )
    merge_task(len(grid), thresholds=[0.5], scoring="mean", init_with_max=True, work=common["work"])
    for i in order:
        relabel_task(
            i, fragments=f"{pieces}:pieces", out=str(out), names=[segmentation_name(0.5)], stitch=True, **common
        )
    np.testing.assert_array_equal(read_volume(out, "fragments"), read_volume(tmp_path / "a.zarr", "fragments"))
    np.testing.assert_array_equal(_segmentations(out, [0.5])[0], _segmentations(tmp_path / "a.zarr", [0.5])[0])


@pytest.mark.real_data
def test_a_killed_worker_changes_nothing(gala, tmp_path):
    """A worker process killed mid-job: Dask runs its tasks again elsewhere and the output is the same."""
    from pytc.blockwise import dask_client

    folder = gala["folder"]
    kwargs = dict(block_shape=(10, 20, 40), halo=(4, 8, 8), progress=False)
    with dask_client(workers=2, threads_per_worker=1, memory_limit="1GiB") as client:
        clean = segment_blockwise(f"{folder}/aff.zarr:aff", tmp_path / "clean.zarr", [0.5], client=client, **kwargs)
        pids = client.run(os.getpid)
        work = tmp_path / "killed.zarr.work"
        result = {}

        def job():
            try:
                result["summary"] = segment_blockwise(
                    f"{folder}/aff.zarr:aff", tmp_path / "killed.zarr", [0.5], client=client, **kwargs
                )
            except BaseException as e:  # reported below
                result["error"] = e

        thread = threading.Thread(target=job)
        thread.start()
        deadline = time.monotonic() + 60
        while JobFolder(work).count("fragments") < 10 and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.02)
        assert JobFolder(work).count("fragments") < clean["blocks"], "the job ended before a worker could be killed"
        victim = sorted(pids.values())[0]
        os.kill(victim, signal.SIGKILL)
        thread.join(timeout=120)
        assert not thread.is_alive() and "error" not in result, result.get("error")
        assert victim not in client.run(os.getpid).values()  # the nanny started a new worker
    for name in ("fragments", segmentation_name(0.5)):
        np.testing.assert_array_equal(
            read_volume(tmp_path / "killed.zarr", name), read_volume(tmp_path / "clean.zarr", name)
        )


@pytest.mark.real_data
def test_command_on_a_running_cluster(gala, client, tmp_path, capsys):
    from pytc.segment import main

    folder = gala["folder"]
    out = tmp_path / "out.zarr"
    argv = [
        "agglomerate",
        f"{folder}/aff.zarr:aff",
        str(out),
        "--thresholds",
        "0.5",
        "--fragments",
        f"{folder}/frag.zarr:frag",
        "--block",
        "25",
        "50",
        "100",
        "--scheduler",
        client.scheduler.address,
        "--quiet",
    ]
    assert main(argv) == 0
    assert "segmentation_0.5" in capsys.readouterr().out
    (expected,) = agglomerate(gala["aff"], [0.5], fragments=gala["fragments"])
    np.testing.assert_array_equal(read_volume(out, segmentation_name(0.5)), expected)
    assert main(["agglomerate", f"{folder}/aff.zarr:aff", str(tmp_path / "out.h5"), "--thresholds", "0.5"]) == 2
    assert "`out` must be a zarr group" in capsys.readouterr().err


def test_errors(tmp_path):
    affinities = np.zeros((3, 4, 4, 4), np.float32)
    write_volume(tmp_path / "aff.zarr", affinities, "aff")
    write_volume(tmp_path / "one.zarr", affinities[0], "x")
    spec = f"{tmp_path}/aff.zarr:aff"
    with pytest.raises(ValueError, match="`out` must be a zarr group"):
        segment_blockwise(spec, tmp_path / "out.h5", [0.5])
    with pytest.raises(ValueError, match="`thresholds` must be ascending"):
        segment_blockwise(spec, tmp_path / "o.zarr", [0.5, 0.2])
    with pytest.raises(ValueError, match="no blockwise form"):
        segment_blockwise(spec, tmp_path / "o.zarr", [0.5], scoring="quantile-50", init_with_max=False)
    with pytest.raises(ValueError, match=r"`affinities` must be a volume of shape \(C >= 3"):
        segment_blockwise(f"{tmp_path}/one.zarr:x", tmp_path / "o.zarr", [0.5])
    with pytest.raises(ValueError, match=r"`fragments` must be a volume of shape \(4, 4, 4\)"):
        segment_blockwise(spec, tmp_path / "o.zarr", [0.5], fragments=f"{tmp_path}/aff.zarr:aff")
    with pytest.raises(ValueError, match="`block_shape` must be three integers >= 1"):
        segment_blockwise(spec, tmp_path / "o.zarr", [0.5], block_shape=(0, 4, 4))
    with pytest.raises(ValueError, match="`halo` must be three integers >= 0"):
        segment_blockwise(spec, tmp_path / "o.zarr", [0.5], halo=(1, 2))
    with pytest.raises(FileNotFoundError):
        segment_blockwise(f"{tmp_path}/missing.zarr:aff", tmp_path / "o.zarr", [0.5])


@pytest.mark.real_data
def test_components_and_evaluate_commands(gala, client, tmp_path, capsys):
    import json

    import cc3d

    from pytc.segment import main

    folder = gala["folder"]
    write_volume(tmp_path / "p.zarr", read_gala("test-p1"), "p")
    address = ["--scheduler", client.scheduler.address, "--quiet", "--block", "25", "50", "100"]
    argv = ["components", f"{tmp_path}/p.zarr:p", str(tmp_path / "cc.zarr"), "--threshold", "0.5"]
    assert main(argv + ["--connectivity", "26", *address]) == 0
    got = read_volume(tmp_path / "cc.zarr", "components")
    expected = cc3d.connected_components(read_gala("test-p1") > 0.5, connectivity=26)
    assert adapted_rand(got, expected) == 0 and len(np.unique(got)) == len(np.unique(expected))
    capsys.readouterr()
    argv = ["evaluate", f"{folder}/frag.zarr:frag", f"{require_gt(folder)}:gt", "--json", "-", *address]
    assert main(argv) == 0
    scores = json.loads(capsys.readouterr().out)
    from pytc.metrics import evaluate

    expected = evaluate(gala["fragments"], read_gala("test-gt"))
    assert scores == pytest.approx(expected, abs=1e-9)


def require_gt(folder):
    path = folder / "gt.zarr"
    if not path.exists():
        write_volume(path, read_gala("test-gt"), "gt")
    return path


def test_command_help_names_the_default_halo(capsys):
    """The command leaves the halo to segment_blockwise; its help quotes DEFAULT_HALO's value."""
    from pytc.blockwise.grid import DEFAULT_HALO
    from pytc.segment import parse_args

    assert parse_args(["agglomerate", "a.zarr", "b.zarr", "--thresholds", "0.5"]).halo is None
    with pytest.raises(SystemExit):
        parse_args(["agglomerate", "--help"])
    assert " ".join(map(str, DEFAULT_HALO)) in " ".join(capsys.readouterr().out.split())
