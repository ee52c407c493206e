"""segment_blockwise: correctness against the whole-volume kernels, and throughput with 1 and 2 workers.

Run: pytest benchmarks/test_bench_blockwise.py (add --benchmark-json=out.json to keep the figures; PYTC_BENCH_SMOKE=1
shrinks the synthetic volumes to seconds). The scale run (a volume 4x larger than the workers' memory, the merge
step's scaling) is benchmarks/blockwise_scale.py, not run here.

Correctness (recorded in extra_info and asserted; these are not timings), on gala_fibsem_mini train (boundary
probabilities to affinities) and on a synthetic volume (benchmarks/blockwise_data.py, 512^3 unless smoke):

- whole-volume fragments, only the region graph blockwise: the partitions equal `agglomerate`'s on the same
  fragments at every threshold (``whole_fragments_identical``);
- blockwise fragments: the adapted Rand error between the blockwise and the whole-volume segmentation
  (``arand_vs_whole``, asserted <= 0.01) and the segments cut at block faces (``face_splits``: pairs of blockwise
  segments touching across a face with the same majority whole-volume segment; ``inside_splits`` counts the same
  across the other planes, ``*_per_plane`` divide by the number of planes).

Asserted: identical partitions with whole-volume fragments, no face split, and on gala (real data) an adapted Rand
error <= 0.01 at every threshold (the synthetic volume's error is recorded). With the default halo (48 voxels) the
512^3 run (blocks 128^3) gives the whole volume's fragments and segmentations exactly: ARand 0, no face or inside
split; with the old default (8, 16, 16) it had 29 and 24 face splits at 0.3 and 0.5 (ARand 0.0197, 0.0012,
0.00006): see docs/blockwise_scale.md. The smoke run (96^3, blocks 48^3) is no test of the halo: each block's
region covers the volume.
"""

import numpy as np
import pytest
from bench_utils import full_or_smoke, timed_seconds
from blockwise_data import SyntheticVolume, whole_affinities

from pytc.blockwise import dask_client, segment_blockwise, segmentation_name
from pytc.blockwise.quality import split_pairs
from pytc.kernels import watershed
from pytc.kernels._agglomerate import agglomerate
from pytc.metrics import adapted_rand

THRESHOLDS = [0.3, 0.5, 0.7]
WATERSHED = {"low": 0.0001, "high": 0.9999, "size_threshold": 64, "dust": 16}
SYNTHETIC_SIZE = full_or_smoke(512, 96)
SYNTHETIC_BLOCK = full_or_smoke(128, 48)
THROUGHPUT_SIZE = full_or_smoke(256, 64)
THROUGHPUT_BLOCK = full_or_smoke(128, 32)


def gala_case():
    from pytc.decode import boundary_to_affinity
    from pytc.testing import read_gala

    return boundary_to_affinity(read_gala("train-p1")).astype(np.float32), (16, 32, 64)


def synthetic_case():
    return whole_affinities(SyntheticVolume((SYNTHETIC_SIZE,) * 3)), (SYNTHETIC_BLOCK,) * 3


def write_zarr(path, array, name):
    from pytc.data.io import create_zarr_array

    create_zarr_array(path, name, array.shape, array.dtype, chunks=array.shape[:-3] + (64, 64, 64))[...] = array
    return f"{path}:{name}"


def read_zarr(path, name):
    import zarr

    return zarr.open_group(str(path), mode="r")[name][...]


def same_partition(a, b):
    """Whether `a` and `b` are the same partition (up to relabelling; 0 is a label like the others)."""
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return pairs.shape[1] == len(np.unique(a)) == len(np.unique(b))


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2, memory_limit="4GiB") as client:
        yield client


@pytest.mark.parametrize(
    "case", [pytest.param("gala_fibsem_mini train", marks=pytest.mark.real_data), f"synthetic {SYNTHETIC_SIZE}^3"]
)
def test_blockwise_equals_whole(benchmark, client, tmp_path, case):
    aff, block_shape = gala_case() if case.startswith("gala") else synthetic_case()
    fragments = watershed(aff, **WATERSHED)
    whole = agglomerate(aff, THRESHOLDS, fragments=fragments)
    affinities = write_zarr(tmp_path / "in.zarr", aff, "affinities")
    fragment_spec = write_zarr(tmp_path / "in.zarr", fragments, "fragments")
    del aff
    run = {"block_shape": block_shape, "thresholds": THRESHOLDS, "client": client, "progress": False}

    segment_blockwise(affinities, tmp_path / "given.zarr", fragments=fragment_spec, **run)
    identical = [
        same_partition(read_zarr(tmp_path / "given.zarr", segmentation_name(t)), w) for t, w in zip(THRESHOLDS, whole)
    ]

    def blockwise():
        return segment_blockwise(affinities, tmp_path / "out.zarr", overwrite=True, **run, **WATERSHED)

    benchmark.group = f"segment_blockwise vs whole {case}"
    summary = benchmark.pedantic(blockwise, rounds=1, iterations=1)
    errors, faces, inside = [], [], []
    for t, w in zip(THRESHOLDS, whole):
        seg = read_zarr(tmp_path / "out.zarr", segmentation_name(t))
        errors.append(float(adapted_rand(seg, w, ignore_gt=())))
        faces.append(split_pairs(seg, w, block_shape, "faces"))
        inside.append(split_pairs(seg, w, block_shape, "inside"))
    benchmark.extra_info.update(
        shape=list(fragments.shape),
        block_shape=list(block_shape),
        blocks=summary["blocks"],
        thresholds=THRESHOLDS,
        whole_fragments_identical=identical,
        arand_vs_whole=[round(e, 5) for e in errors],
        face_splits=[f["pairs"] for f in faces],
        inside_splits=[i["pairs"] for i in inside],
        face_splits_per_plane=[round(f["pairs"] / max(f["planes"], 1), 3) for f in faces],
        inside_splits_per_plane=[round(i["pairs"] / max(i["planes"], 1), 3) for i in inside],
        whole_fragments=int(len(np.unique(fragments)) - 1),
        blockwise_fragments=summary["fragments"],
        stitched=summary["stitched"],
        seconds=round(timed_seconds(benchmark) or float("nan"), 2),
    )
    print(case, benchmark.extra_info)
    assert all(identical)
    assert sum(f["pairs"] for f in faces) == 0  # no segment cut at a block face
    if case.startswith("gala"):  # the bound, on real data; the synthetic volume's errors are recorded
        assert max(errors) <= 0.01


@pytest.mark.parametrize("workers", [1, 2])
def test_blockwise_throughput(benchmark, tmp_path_factory, workers):
    """segment_blockwise end to end (fragments, graph, merge, relabel) on a running LocalCluster of 1 or 2 worker
    processes (cluster start-up not timed), uint8 synthetic affinities."""
    from blockwise_data import write_affinities

    folder = tmp_path_factory.getbasetemp() / "throughput"
    path = folder / "affinities.zarr"
    if not path.exists():
        write_affinities(str(path), SyntheticVolume((THROUGHPUT_SIZE,) * 3), np.uint8, THROUGHPUT_BLOCK, progress=False)
    benchmark.group = f"segment_blockwise synthetic {THROUGHPUT_SIZE}^3 uint8, blocks {THROUGHPUT_BLOCK}^3"
    summaries = []
    with dask_client(workers=workers, memory_limit="4GiB") as client:

        def run():
            summaries.append(
                segment_blockwise(
                    f"{path}:affinities",
                    folder / f"out{workers}.zarr",
                    THRESHOLDS,
                    block_shape=(THROUGHPUT_BLOCK,) * 3,
                    client=client,
                    overwrite=True,
                    progress=False,
                    **WATERSHED,
                )
            )

        benchmark.pedantic(run, rounds=1, iterations=1)
    summary = summaries[-1]
    seconds = timed_seconds(benchmark) or float("nan")
    steps = ("fragments", "graph", "merge", "relabel")
    benchmark.extra_info.update(
        workers=workers,
        megavoxels_per_s=round(THROUGHPUT_SIZE**3 / seconds / 1e6, 3),
        blocks=summary["blocks"],
        step_seconds={s: round(summary[f"{s}_step"]["seconds"], 2) for s in steps},
        task_seconds_per_block={
            s: round(summary[f"{s}_step"]["task_seconds"] / summary[f"{s}_step"]["tasks"], 3) for s in steps
        },
        nodes=summary["nodes"],
        edges=summary["edges"],
    )
    print(f"{workers} worker(s)", benchmark.extra_info)
    assert summary["fragments"] > 0 and summary["nodes"] > 0
