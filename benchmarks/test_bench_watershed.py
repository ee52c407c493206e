"""pytc watershed vs waterz's initial watershed (agglomerate with thresholds=[0]) on the same affinities.

Run: pytest benchmarks/test_bench_watershed.py (add --benchmark-json=out.json to keep the figures).
Groups compare, on the same affinities, pytc on 1 thread and on all threads with the merging off
(size_threshold=0, dust=0: basins only, which is what waterz's watershed gives before merging)
and waterz (warmed up: it compiles its C++ on the first call). waterz additionally builds its
region graph; pytc skips it when no merge pass runs. The `pytc-defaults` rows time pytc's full
pipeline (size_threshold=64, dust=16: region graph and both merge passes) for reference. On the
real data extra_info has the adapted Rand error and VOI (split, merge) against train-gt;
test_watershed_peak_memory prints (-s) the peak memory of one call in a fresh process.
"""

import functools

import numpy as np
import pytest
from bench_utils import full_or_smoke, peak_memory_mib, require_peer, timed_seconds

from pytc.decode import boundary_to_affinity
from pytc.kernels import max_threads, seg_to_affinity
from pytc.kernels._watershed import watershed
from pytc.synthetic import random_segmentation
from pytc.testing import read_gala

ALL = max_threads()
SYNTHETIC = full_or_smoke(256, 64)  # edge of the synthetic volume
IMPLEMENTATIONS = ["pytc-1thread", f"pytc-{ALL}threads", "pytc-defaults-1thread", "waterz"]


@functools.lru_cache(maxsize=1)
def synthetic_affinities(size):
    """Affinities of a random anisotropic segmentation blended with uniform noise (seeded)."""
    seg = random_segmentation((size,) * 3, n_segments=2000, anisotropy=4.0)
    aff = seg_to_affinity(seg, [(-1, 0, 0), (0, -1, 0), (0, 0, -1)])
    noise = np.random.default_rng(0).random(aff.shape, dtype=np.float32)
    return (np.float32(0.8) * aff + np.float32(0.2) * noise).astype(np.float32)


def run(benchmark, impl, aff, gt=None, rounds=3, warmup_rounds=1, check_waterz=False):
    waterz = require_peer("waterz")
    fns = {
        "pytc-1thread": lambda: watershed(aff, size_threshold=0, dust=0, threads=1),
        f"pytc-{ALL}threads": lambda: watershed(aff, size_threshold=0, dust=0, threads=ALL),
        "pytc-defaults-1thread": lambda: watershed(aff, threads=1),
        "waterz": lambda: next(iter(waterz.agglomerate(aff, [0]))).copy(),
    }
    if impl == "waterz":
        next(iter(waterz.agglomerate(aff[:, :4, :8, :8].copy(), [0])))  # compile outside the timing
    seg = benchmark.pedantic(fns[impl], rounds=rounds, warmup_rounds=warmup_rounds)
    if check_waterz and impl.startswith("pytc") and "defaults" not in impl:
        # same basins as waterz, except that pytc keeps voxels without an edge above `low` as singletons
        ref = next(iter(waterz.agglomerate(aff, [0])))
        inside = ref > 0
        pairs = np.unique(np.stack([seg[inside], ref[inside]]), axis=1)
        assert len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))
    info = dict(
        fragments=len(np.unique(seg[seg > 0])),
        voxels=int(seg.size),
        threads=1 if "1thread" in impl else ALL if impl.startswith("pytc") else "waterz",
    )
    seconds = timed_seconds(benchmark)
    if seconds is not None:
        info["megavoxels_per_s"] = round(seg.size / seconds / 1e6, 1)
    if gt is not None:
        from skimage.metrics import adapted_rand_error, variation_of_information

        info["adapted_rand_error"] = float(adapted_rand_error(gt, seg, ignore_labels=(0,))[0])
        info["voi_split"], info["voi_merge"] = map(float, variation_of_information(gt, seg, ignore_labels=(0,)))
    benchmark.extra_info.update(info)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_watershed_gala(benchmark, impl):
    benchmark.group = "watershed gala train-p1 (50, 100, 200)"
    run(
        benchmark,
        impl,
        boundary_to_affinity(read_gala("train-p1")),
        gt=read_gala("train-gt"),
        rounds=5,
        check_waterz=True,
    )


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_watershed_synthetic(benchmark, impl):
    benchmark.group = f"watershed synthetic {SYNTHETIC}^3 (2000 segments, anisotropy 4, 20% noise)"
    slow = impl in ("waterz", "pytc-defaults-1thread")  # 10-20 s a call on 2 shared cores
    run(benchmark, impl, synthetic_affinities(SYNTHETIC), rounds=1 if slow else 3, warmup_rounds=0 if slow else 1)


PEAK_CALLS = {
    "pytc": "fragments = watershed(inputs[0], size_threshold=0, dust=0)",
    "pytc-defaults": "fragments = watershed(inputs[0])",
    "waterz": "fragments = next(iter(waterz.agglomerate(inputs[0], [0]))).copy()",
}


@pytest.mark.parametrize("impl", list(PEAK_CALLS))
def test_watershed_peak_memory(tmp_path_factory, record_property, impl):
    """Peak RSS above the loaded affinities (MiB) of one call on gala train-p1, in a fresh process
    (all threads). Reported, never asserted."""
    require_peer("waterz")
    mib = peak_memory_mib(
        "import waterz; from pytc.kernels._watershed import watershed",
        PEAK_CALLS[impl],
        [boundary_to_affinity(read_gala("train-p1"))],
        tmp_path_factory.getbasetemp() / "watershed_inputs",
    )
    record_property("peak_mib_above_inputs", mib)
    print(f"watershed gala train-p1 {impl}: peak {mib:.0f} MiB above the inputs")
