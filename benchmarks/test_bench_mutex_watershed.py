"""mutex_watershed against mwatershed (Rust) on the same affinities, 9 offsets.

Run: pytest benchmarks/test_bench_mutex_watershed.py (add --benchmark-json=out.json to keep the
figures). Inputs: a synthetic 128^3 volume (affinities of pytc.synthetic.random_segmentation
with the 9 offsets, blended with uniform noise so the weights are tie-free; 256^3 takes minutes
per mwatershed round on a 2-core machine, so it is not in the default set) and the real
gala_fibsem_mini train-p1 boundary map (aff = 1 - max(p[v], p[v + o]), also blended with noise).
Before timing, each implementation's segmentation is checked against mwatershed's (same partition
up to relabeling); extra_info records that agreement, the segment count and, on real data, the
adapted Rand error and VOI (split, merge) against train-gt. test_mutex_watershed_peak_memory
prints (-s) the peak memory of one call on the real input in a fresh process.
"""

import numpy as np
import pytest
from bench_utils import full_or_smoke, peak_memory_mib, require_peer, timed_seconds

from pytc.kernels import max_threads
from pytc.kernels._affinity import seg_to_affinity
from pytc.kernels._mutex_watershed import mutex_watershed
from pytc.synthetic import random_segmentation
from pytc.testing import read_gala

OFFSETS = [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (-2, 0, 0), (0, -3, 0), (0, 0, -3), (-3, 0, 0), (0, -9, 0), (0, 0, -9)]
ATTRACTIVE = 3
ALL = max_threads()
IMPLEMENTATIONS = ["pytc-1thread", f"pytc-{ALL}threads", "mwatershed"]


def noisy(aff, seed=0):
    noise = np.random.default_rng(seed).random(aff.shape, dtype=np.float32)
    return np.float32(0.8) * aff + np.float32(0.2) * noise


def mwatershed_weights(aff):
    """mwatershed's encoding: positive = attractive, negative = repulsive, sorted by |w|."""
    weights = aff.astype(np.float64)
    weights[ATTRACTIVE:] = aff[ATTRACTIVE:] - np.float32(1)
    return weights


def same_partition(a, b):
    a, b = a.ravel().astype(np.int64), b.ravel().astype(np.int64)
    zeros = b == 0  # mwatershed labels never-merged voxels 0: give them their own ids
    b = b.copy()
    b[zeros] = b.max() + 1 + np.arange(zeros.sum())
    return np.unique(np.stack([a, b]), axis=1).shape[1] == len(np.unique(a)) == len(np.unique(b))


@pytest.fixture(scope="module")
def inputs():
    cache = {}

    def get(name):
        if name not in cache:
            if name == "gala":
                p = read_gala("train-p1").astype(np.float32)
                p /= np.float32(max(1.0, float(p.max())))
                aff = np.zeros((len(OFFSETS),) + p.shape, np.float32)
                for c, o in enumerate(OFFSETS):
                    here = tuple(slice(max(0, -d), n - max(0, d)) for d, n in zip(o, p.shape))
                    there = tuple(slice(max(0, -d) + d, n - max(0, d) + d) for d, n in zip(o, p.shape))
                    aff[c][here] = 1 - np.maximum(p[here], p[there])
                cache[name] = noisy(aff)
            else:
                size = int(name)
                seg = random_segmentation((size,) * 3, n_segments=size**3 // 8000, anisotropy=4.0)
                cache[name] = noisy(seg_to_affinity(seg, OFFSETS))
            mwatershed = require_peer("mwatershed")
            cache[name + "-mw"] = mwatershed.agglom(mwatershed_weights(cache[name]), [list(o) for o in OFFSETS])
        return cache[name], cache[name + "-mw"]

    return get


def run(benchmark, impl, aff, expected, gt=None):
    if impl == "mwatershed":
        mwatershed = require_peer("mwatershed")
        weights = mwatershed_weights(aff)
        offsets = [list(o) for o in OFFSETS]

        def fn():
            return mwatershed.agglom(weights, offsets)

    else:
        threads = 1 if "1thread" in impl else ALL

        def fn():
            return mutex_watershed(aff, OFFSETS, attractive=ATTRACTIVE, threads=threads)

    labels = fn()
    agrees = impl == "mwatershed" or same_partition(labels, expected)
    assert agrees, "segmentation differs from mwatershed's"
    benchmark.pedantic(fn, rounds=3, warmup_rounds=1 if impl != "mwatershed" else 0)
    info = dict(
        edges=int(aff.size),
        threads=1 if "1thread" in impl else ALL if impl.startswith("pytc") else 1,
        same_partition_as_mwatershed=bool(agrees),
        segments=len(np.unique(labels)),
    )
    if gt is not None:
        from skimage.metrics import adapted_rand_error, variation_of_information

        seg = labels.astype(np.int64)
        info["adapted_rand_error"] = round(float(adapted_rand_error(gt, seg, ignore_labels=(0,))[0]), 4)
        split, merge = variation_of_information(gt, seg, ignore_labels=(0,))
        info["voi_split"], info["voi_merge"] = round(float(split), 4), round(float(merge), 4)
    seconds = timed_seconds(benchmark)
    if seconds is not None:  # None under --benchmark-disable
        info["megavoxels_per_s"] = round(aff[0].size / seconds / 1e6, 2)
    benchmark.extra_info.update(info)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("size", [full_or_smoke(128, 48)])
def test_mutex_watershed_synthetic(benchmark, inputs, size, impl):
    benchmark.group = f"mutex_watershed synthetic {size}^3 9 offsets"
    aff, expected = inputs(str(size))
    run(benchmark, impl, aff, expected)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_mutex_watershed_real(benchmark, inputs, impl):
    benchmark.group = "mutex_watershed gala_fibsem_mini train-p1 (50, 100, 200) 9 offsets"
    aff, expected = inputs("gala")
    run(benchmark, impl, aff, expected, gt=read_gala("train-gt"))


@pytest.mark.parametrize("impl", ["pytc", "mwatershed"])
def test_mutex_watershed_peak_memory(inputs, tmp_path_factory, record_property, impl):
    """Peak RSS above the loaded affinities (MiB) of one call on the gala input, in a fresh process
    (pytc on all threads; mwatershed's float64 weights are made before the peak is reset).
    Reported, never asserted."""
    require_peer("mwatershed")
    aff, _ = inputs("gala")
    offsets = [list(o) for o in OFFSETS]
    if impl == "pytc":
        setup = "from pytc.kernels._mutex_watershed import mutex_watershed"
        call = f"labels = mutex_watershed(inputs[0], {offsets}, attractive={ATTRACTIVE})"
    else:
        setup = (
            f"import mwatershed; weights = inputs[0].astype(np.float64); "
            f"weights[{ATTRACTIVE}:] = inputs[0][{ATTRACTIVE}:] - np.float32(1)"
        )
        call = f"labels = mwatershed.agglom(weights, {offsets})"
    mib = peak_memory_mib(setup, call, [aff], tmp_path_factory.getbasetemp() / "mutex_watershed_inputs")
    record_property("peak_mib_above_inputs", mib)
    print(f"mutex_watershed gala 9 offsets {impl}: peak {mib:.0f} MiB above the inputs")
