"""agglomerate against waterz: on the same fragments, and from the affinities alone.

Run: pytest benchmarks/test_bench_agglomerate.py (add --benchmark-json=out.json to keep the figures).
The 'agglomerate' groups compare, on the same fragments, affinities and thresholds, end to end
(validation, region graph, merging, one uint64 segmentation per threshold): pytc on 1 thread and
on all threads (threads speed up writing the segmentations and first-touch their pages while the
graph is built and merged, which is sequential) and waterz (prebuilt variants, warmed up). waterz
writes its segmentations into the fragments array it is given, so its timing includes the copy
of the fragments it needs to leave the caller's intact and a copy of each segmentation (pytc
returns new arrays). The adapted Rand error of the best threshold (against the ground truth, 0
ignored) is recorded in extra_info for both (computed before timing). The 'agglomerate from
affinities' groups start from the affinities, each library running its own watershed first (see
test_agglomerate_from_affinities). Peak memory (tracemalloc does not see C++ allocations) is
measured by test_agglomerate_peak_memory in a fresh process per run, from Linux's VmHWM, and
printed (-s) and recorded as a junit property.
"""

import numpy as np
import pytest
from bench_utils import full_or_smoke, peak_memory_mib, require_peer, timed_seconds

from pytc.decode import boundary_to_affinity
from pytc.kernels import max_threads, seg_to_affinity
from pytc.kernels._agglomerate import agglomerate
from pytc.synthetic import random_segmentation
from pytc.testing import read_gala, require_data

SIZE = full_or_smoke(256, 64)  # edge of the synthetic volume
SYNTHETIC = f"synthetic {SIZE}^3"

ALL = max_threads()
THRESHOLDS = [0.1, 0.3, 0.5, 0.7]
SCORINGS = {
    "mean": "OneMinus<MeanAffinity<RegionGraphType,ScoreValue>>",
    "quantile-50-histogram": "OneMinus<HistogramQuantileAffinity<RegionGraphType,50,ScoreValue,256,true>>",
}
IMPLEMENTATIONS = ["pytc-1thread", f"pytc-{ALL}threads", "waterz"]


def synthetic(size=SIZE, seed=0):
    """Noisy, blurred affinities of a random segmentation, and fragments that split it further.

    Fragments: the ground truth intersected with a finer random Voronoi partition (connected
    components), so they over-segment every object; the noise makes the mean affinity of some
    false boundaries low and of some true ones high.
    """
    import cc3d
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    gt = random_segmentation((size,) * 3, n_segments=400, seed=seed)
    aff = seg_to_affinity(gt)
    aff += rng.normal(0, 0.5, aff.shape).astype(np.float32)
    aff = np.clip(np.stack([gaussian_filter(a, 1.0) for a in aff]), 0, 1).astype(np.float32)
    fine = random_segmentation(gt.shape, n_segments=size**3 // 300, boundary=False, seed=seed + 1)
    combined = gt.astype(np.uint64) * np.uint64(fine.max() + 1) + fine
    combined[gt == 0] = 0
    fragments = cc3d.connected_components(combined, connectivity=6, out_dtype=np.uint64)
    return aff, fragments, gt


@pytest.fixture(scope="module")
def cases():
    cache = {}

    def get(name):
        if name not in cache:
            if name == SYNTHETIC:
                cache[name] = synthetic()
            elif name == "gala_fibsem_mini train":
                cache[name] = (
                    boundary_to_affinity(read_gala("train-p1")),
                    read_gala("train-ws").astype(np.uint64),
                    read_gala("train-gt"),
                )
            else:
                import tifffile

                folder = require_data("gala_snemi_mini_labels_only")
                p = tifffile.imread(folder / "train-probabilities.tif").astype(np.float32) / np.float32(255)
                cache[name] = (
                    boundary_to_affinity(p),
                    tifffile.imread(folder / "train-fragments.tif").astype(np.uint64),
                    tifffile.imread(folder / "train-labels.tif"),
                )
        return cache[name]

    return get


def best_adapted_rand(gt, segmentations):
    from skimage.metrics import adapted_rand_error

    return min(adapted_rand_error(gt, seg, ignore_labels=(0,))[0] for seg in segmentations)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("scoring", list(SCORINGS))
@pytest.mark.parametrize("case", [SYNTHETIC, "gala_fibsem_mini train", "gala_snemi_mini train"])
def test_agglomerate(benchmark, cases, case, scoring, impl):
    aff, fragments, gt = cases(case)
    benchmark.group = f"agglomerate {case} {fragments.shape} {scoring} {len(THRESHOLDS)} thresholds"
    if impl == "waterz":
        waterz = require_peer("waterz")

        def fn():
            return [
                seg.copy()
                for seg in waterz.agglomerate(
                    aff, THRESHOLDS, fragments=fragments.copy(), scoring_function=SCORINGS[scoring]
                )
            ]
    else:
        threads = 1 if "1thread" in impl else ALL

        def fn():
            return agglomerate(aff, THRESHOLDS, fragments=fragments, scoring=scoring, threads=threads)

    error = best_adapted_rand(gt, fn())  # also warms waterz up (loads its compiled variant)
    benchmark.pedantic(fn, rounds=3, warmup_rounds=1)
    seconds = timed_seconds(benchmark) or float("nan")  # None under --benchmark-disable
    benchmark.extra_info.update(
        best_adapted_rand_error=round(float(error), 5),
        fragments_adapted_rand_error=round(float(best_adapted_rand(gt, [fragments])), 5),
        n_fragments=len(np.unique(fragments)),
        megavoxels_per_s=round(fragments.size / seconds / 1e6, 2),
        threads=1 if "1thread" in impl else ALL if impl.startswith("pytc") else "waterz (1)",
    )


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("scoring", list(SCORINGS))
@pytest.mark.parametrize("case", ["gala_fibsem_mini train", "gala_snemi_mini train", SYNTHETIC])
def test_agglomerate_from_affinities(benchmark, cases, case, scoring, impl):
    """Affinities to one segmentation per threshold, each library with its own watershed: pytc's
    agglomerate without fragments (zwatershed with size-dependent merging and dust, then the
    agglomeration) against waterz.agglomerate without fragments (its basin watershed, then the
    agglomeration). The fragments differ, so the accuracy differs too: extra_info records the best
    adapted Rand error and the VOI (split, merge) at that threshold for both."""
    aff, _, gt = cases(case)
    benchmark.group = f"agglomerate from affinities {case} {gt.shape} {scoring} {len(THRESHOLDS)} thresholds"
    if impl == "waterz":
        waterz = require_peer("waterz")

        def fn():
            return [seg.copy() for seg in waterz.agglomerate(aff, THRESHOLDS, scoring_function=SCORINGS[scoring])]
    else:
        threads = 1 if "1thread" in impl else ALL

        def fn():
            return agglomerate(aff, THRESHOLDS, scoring=scoring, threads=threads)

    from skimage.metrics import adapted_rand_error, variation_of_information

    segmentations = fn()  # also warms waterz up
    errors = [adapted_rand_error(gt, seg, ignore_labels=(0,))[0] for seg in segmentations]
    best = int(np.argmin(errors))
    split, merge = variation_of_information(gt, segmentations[best], ignore_labels=(0,))
    del segmentations
    slow = case == SYNTHETIC and impl == "waterz"  # about 20 s a call on 2 shared cores
    benchmark.pedantic(fn, rounds=1 if slow else 3, warmup_rounds=0 if slow else 1)
    seconds = timed_seconds(benchmark) or float("nan")  # None under --benchmark-disable
    benchmark.extra_info.update(
        best_adapted_rand_error=round(float(errors[best]), 5),
        best_threshold=THRESHOLDS[best],
        voi_split=round(float(split), 4),
        voi_merge=round(float(merge), 4),
        megavoxels_per_s=round(gt.size / seconds / 1e6, 2),
        threads=1 if "1thread" in impl else ALL if impl.startswith("pytc") else "waterz (1)",
    )


@pytest.mark.parametrize("impl", ["pytc", "pytc-iter", "waterz", "waterz-iter"])
@pytest.mark.parametrize("scoring", list(SCORINGS))
def test_agglomerate_peak_memory(cases, tmp_path_factory, record_property, scoring, impl):
    """Peak RSS above the loaded inputs (MiB) in a fresh process: list of segmentations kept
    ('pytc', 'waterz' copying each) or one at a time ('-iter'). Reported, never asserted."""
    require_peer("waterz")
    aff, fragments, _ = cases(SYNTHETIC)
    name = scoring if impl.startswith("pytc") else SCORINGS[scoring]
    call = {
        "pytc": f"kept = agglomerate(inputs[0], {THRESHOLDS}, fragments=inputs[1], scoring={name!r})",
        "pytc-iter": f"for seg in iter_agglomerate(inputs[0], {THRESHOLDS}, fragments=inputs[1], scoring={name!r}): pass",
        "waterz": f"kept = [s.copy() for s in waterz.agglomerate(inputs[0], {THRESHOLDS}, fragments=inputs[1].copy(), "
        f"scoring_function={name!r})]",
        "waterz-iter": f"for seg in waterz.agglomerate(inputs[0], {THRESHOLDS}, fragments=inputs[1].copy(), "
        f"scoring_function={name!r}): pass",
    }[impl]
    mib = peak_memory_mib(
        "import waterz; from pytc.kernels._agglomerate import agglomerate, iter_agglomerate",
        call,
        [aff, fragments],
        tmp_path_factory.getbasetemp() / "agglomerate_inputs",
    )
    record_property("peak_mib_above_inputs", mib)
    print(f"agglomerate {SYNTHETIC} {scoring} {impl}: peak {mib:.0f} MiB above the inputs")
