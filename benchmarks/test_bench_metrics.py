"""Segmentation metrics (adapted Rand error + VOI) against scikit-image and the numpy reference.

Run: pytest benchmarks/test_bench_metrics.py (add --benchmark-json=out.json to keep the figures).
Each group times, on the same pair of volumes: pytc.metrics.evaluate (all metrics from one
compiled contingency table) and the bare contingency table, on 1 thread and on all threads;
scikit-image's adapted_rand_error + variation_of_information (what a user would call for the
same numbers; each builds its own table); and the numpy/scipy reference. The scores are checked
against scikit-image before timing and stored in extra_info.

The FIB-SEM group is the case of issue 13: a 256^3 real-geometry volume (bench_utils.fibsem_metrics_case:
about 3,800 watershed fragments against 500 ground-truth bodies) scored by `adapted_rand` + `voi`
(two calls, two tables, as scikit-image's two functions) and by `evaluate` (one table), on 1 thread
and all threads; extra_info holds `times_skimage`, scikit-image's best time (in the same run) over
the best time of the row.
"""

import numpy as np
import pytest
from bench_utils import best_seconds, fibsem_metrics_case, full_or_smoke, timed_seconds
from skimage.metrics import adapted_rand_error, variation_of_information

from pytc.kernels import max_threads
from pytc.kernels._contingency import contingency_table
from pytc.kernels._reference.metrics import adapted_rand_ref, voi_ref
from pytc.metrics import adapted_rand, evaluate, voi
from pytc.synthetic import random_segmentation
from pytc.testing import read_gala

SIZE = full_or_smoke(256, 64)  # edge of the synthetic volume

ALL = max_threads()
IMPLEMENTATIONS = [
    "pytc-evaluate-1thread",
    f"pytc-evaluate-{ALL}threads",
    "pytc-contingency-1thread",
    f"pytc-contingency-{ALL}threads",
    "skimage",
    "numpy-reference",
]


def score_dict(error, precision, recall, split, merge):
    """The keys of pytc.metrics.evaluate that a peer or the reference also gives."""
    return {
        "adapted_rand_error": error,
        "rand_precision": precision,
        "rand_recall": recall,
        "voi_split": split,
        "voi_merge": merge,
    }


def skimage_scores(seg, gt):
    error, recall, precision = adapted_rand_error(
        image_true=gt, image_test=seg, ignore_labels=(0,)
    )  # swapped: skimage #6485
    split, merge = variation_of_information(gt, seg, ignore_labels=(0,))
    return score_dict(error, precision, recall, split, merge)


def reference_scores(seg, gt):
    error, precision, recall = adapted_rand_ref(seg, gt, return_all=True)
    split, merge = voi_ref(seg, gt)
    return score_dict(error, precision, recall, split, merge)


@pytest.fixture(scope="module")
def synthetic_pair():
    """SIZE^3 uint32 Voronoi ground truth and a uint64 segmentation of it with false merges (a
    quarter of the gt segments merged in pairs with a touching neighbour, via fastremap) and
    false splits (every segment cut along a second, coarser Voronoi partition)."""
    import fastremap

    size = SIZE
    gt = random_segmentation((size,) * 3, n_segments=size**3 // 8000, anisotropy=4.0, seed=0)
    a, b = gt[:, :, :-2].ravel(), gt[:, :, 2:].ravel()  # the two sides of a one-voxel membrane
    touching = (a != 0) & (b != 0) & (a != b)
    pairs = np.unique(np.stack([a[touching], b[touching]], axis=1), axis=0)
    rng = np.random.default_rng(1)
    mapping, used, n_merged = {}, set(), len(fastremap.unique(gt)) // 4
    for i, j in pairs[rng.permutation(len(pairs))].tolist():
        if i not in used and j not in used and len(used) < n_merged:
            mapping[j] = i
            used.update((i, j))
    merged = fastremap.remap(gt, mapping, preserve_missing_labels=True).astype(np.uint64)
    splits = random_segmentation((size,) * 3, n_segments=500, boundary=False, seed=2, dtype=np.uint64)
    return merged * np.uint64(1000) + splits, gt


_EXPECTED = {}


def run(benchmark, impl, seg, gt):
    fns = {
        "pytc-evaluate-1thread": lambda: evaluate(seg, gt, threads=1),
        f"pytc-evaluate-{ALL}threads": lambda: evaluate(seg, gt, threads=ALL),
        "pytc-contingency-1thread": lambda: contingency_table(seg, gt, ignore_gt=0, threads=1),
        f"pytc-contingency-{ALL}threads": lambda: contingency_table(seg, gt, ignore_gt=0, threads=ALL),
        "skimage": lambda: skimage_scores(seg, gt),
        "numpy-reference": lambda: reference_scores(seg, gt),
    }
    key = benchmark.group
    if key not in _EXPECTED:  # skimage's scores, once per group
        _EXPECTED[key] = skimage_scores(seg, gt)
    expected = _EXPECTED[key]
    if "contingency" not in impl:  # agree before timing
        scores = fns[impl]()
        for key, value in expected.items():
            assert abs(scores[key] - value) < 1e-9, (key, scores[key], value)
    slow = impl in ("skimage", "numpy-reference")
    benchmark.pedantic(fns[impl], rounds=3 if slow else 5, warmup_rounds=1)
    benchmark.extra_info.update(
        threads=1 if "1thread" in impl else ALL if impl.startswith("pytc") else "numpy",
        **{key: round(float(value), 6) for key, value in expected.items()},
    )
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["megavoxels_per_s"] = round(seg.size / benchmark.stats.stats.min / 1e6, 1)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_metrics_synthetic(benchmark, synthetic_pair, impl):
    benchmark.group = f"metrics {SIZE}^3 synthetic: seg uint64 vs gt uint32"
    seg, gt = synthetic_pair
    run(benchmark, impl, seg, gt)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_metrics_real(benchmark, impl):
    benchmark.group = "metrics gala_fibsem_mini train-ws vs train-gt (50, 100, 200) int32"
    run(benchmark, impl, read_gala("train-ws"), read_gala("train-gt"))


FIBSEM_SIZE = full_or_smoke(256, 64)
FIBSEM_IMPLEMENTATIONS = [
    "pytc-adapted_rand+voi-1thread",
    f"pytc-adapted_rand+voi-{ALL}threads",
    "pytc-evaluate-1thread",
    f"pytc-evaluate-{ALL}threads",
    "skimage",
]


@pytest.fixture(scope="module")
def fibsem_case():
    """(seg, gt, scikit-image's scores, scikit-image's best time of adapted_rand_error +
    variation_of_information in seconds)."""
    seg, gt = fibsem_metrics_case(FIBSEM_SIZE)
    expected = skimage_scores(seg, gt)
    return seg, gt, expected, best_seconds(lambda: skimage_scores(seg, gt), repeat=3)


@pytest.mark.parametrize("impl", FIBSEM_IMPLEMENTATIONS)
def test_metrics_fibsem(benchmark, fibsem_case, impl):
    seg, gt, expected, skimage_seconds = fibsem_case
    benchmark.group = (
        f"metrics {FIBSEM_SIZE}^3 FIB-SEM-like: {len(np.unique(seg))} fragments (uint64) "
        f"vs {len(np.unique(gt)) - 1} bodies (uint32)"
    )
    threads = 1 if "1thread" in impl else ALL

    def adapted_rand_voi():
        error, precision, recall = adapted_rand(seg, gt, return_all=True, threads=threads)
        split, merge = voi(seg, gt, threads=threads)
        return score_dict(error, precision, recall, split, merge)

    fn = {
        "skimage": lambda: skimage_scores(seg, gt),
        "pytc-evaluate-1thread": lambda: evaluate(seg, gt, threads=1),
        f"pytc-evaluate-{ALL}threads": lambda: evaluate(seg, gt, threads=ALL),
    }.get(impl, adapted_rand_voi)
    scores = fn()  # agree before timing
    for key, value in expected.items():
        assert abs(scores[key] - value) < 1e-9, (key, scores[key], value)
    benchmark.pedantic(fn, rounds=3 if impl == "skimage" else 7, warmup_rounds=1)
    benchmark.extra_info.update(
        threads=threads if impl.startswith("pytc") else 1,
        **{key: round(float(value), 6) for key, value in expected.items()},
    )
    seconds = timed_seconds(benchmark)
    if seconds is not None:
        benchmark.extra_info["megavoxels_per_s"] = round(seg.size / seconds / 1e6, 1)
        benchmark.extra_info["times_skimage"] = round(skimage_seconds / seconds, 2)
