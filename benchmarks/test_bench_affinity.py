"""seg_to_affinity against the numpy reference and the memory-bandwidth floor.

Run: pytest benchmarks/ (add --benchmark-json=out.json to keep the figures).
Groups compare, on the same labels: pytc on 1 thread and on all threads, each returning a new
array and writing into a reused buffer (`-out`: no faulting and zeroing of fresh pages by the
OS), and the numpy reference.

The FIB-SEM group is the case of issue 13: real-geometry ground truth (bench_utils.fibsem_metrics_case's gt,
256^3) as uint64, 3 nearest-neighbour offsets, a fresh output per call (its page faults count, as in every
user's call). extra_info: `times_numpy` (the numpy reference's best time in the same run over the row's),
`times_floor` (the row's time over the bandwidth floor: one read of the labels and one write of the output
at the copy bandwidth); test_seg_to_affinity_fibsem_peak_memory records the peak memory of one call
against the bytes of its input and output.
"""

import numpy as np
import pytest
from bench_utils import best_seconds, fibsem_metrics_case, full_or_smoke, peak_memory_mib, timed_seconds

from pytc.kernels import DEFAULT_OFFSETS, LONG_RANGE_OFFSETS, max_threads, seg_to_affinity, seg_to_affinity_ref
from pytc.synthetic import random_segmentation
from pytc.testing import read_gala

LARGEST = full_or_smoke(256, 64)

NEAREST = DEFAULT_OFFSETS[3]
LONG_RANGE = LONG_RANGE_OFFSETS
OFFSETS = {3: NEAREST, 12: LONG_RANGE}
ALL = max_threads()
IMPLEMENTATIONS = [
    "pytc-1thread",
    f"pytc-{ALL}threads",
    "pytc-1thread-out",
    f"pytc-{ALL}threads-out",
    "numpy-reference",
]


@pytest.fixture(scope="module")
def labels():
    cache = {}

    def get(size, dtype):
        if size not in cache:
            cache[size] = random_segmentation((size,) * 3, n_segments=size**3 // 8000, anisotropy=4.0)
        return cache[size].astype(dtype)

    return get


def run(benchmark, impl, seg, offsets, copy_bandwidth):
    out = np.empty((len(offsets),) + seg.shape, np.float32)
    fns = {
        "pytc-1thread": lambda: seg_to_affinity(seg, offsets, threads=1),
        f"pytc-{ALL}threads": lambda: seg_to_affinity(seg, offsets, threads=ALL),
        "pytc-1thread-out": lambda: seg_to_affinity(seg, offsets, threads=1, out=out),
        f"pytc-{ALL}threads-out": lambda: seg_to_affinity(seg, offsets, threads=ALL, out=out),
        "numpy-reference": lambda: seg_to_affinity_ref(seg, offsets),
    }
    np.testing.assert_array_equal(fns[impl](), seg_to_affinity_ref(seg, offsets))  # agree before timing
    rounds = 3 if impl == "numpy-reference" and seg.size * len(offsets) > 10**8 else 5
    benchmark.pedantic(fns[impl], rounds=rounds, warmup_rounds=1)
    seconds = timed_seconds(benchmark)
    if seconds is None:
        return
    floor = (seg.nbytes + out.nbytes) / copy_bandwidth  # one read of the labels, one write of the output
    benchmark.extra_info.update(
        megavoxels_per_s=round(seg.size / seconds / 1e6, 1),
        bandwidth_floor_ms=round(floor * 1e3, 2),
        times_floor=round(seconds / floor, 2),
        threads=1 if "1thread" in impl else ALL if impl.startswith("pytc") else "numpy",
    )


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("n_offsets", [3, 12])
@pytest.mark.parametrize("dtype", ["uint32", "uint64"])
@pytest.mark.parametrize("size", full_or_smoke([128, 256], [32, 64]))
def test_seg_to_affinity(benchmark, labels, copy_bandwidth, size, dtype, n_offsets, impl):
    benchmark.group = f"seg_to_affinity {size}^3 {dtype} {n_offsets} offsets"
    run(benchmark, impl, labels(size, dtype), OFFSETS[n_offsets], copy_bandwidth)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_seg_to_affinity_real_labels(benchmark, copy_bandwidth, impl):
    benchmark.group = "seg_to_affinity gala_fibsem_mini train-gt (50, 100, 200) int32 12 offsets"
    run(benchmark, impl, read_gala("train-gt"), LONG_RANGE, copy_bandwidth)


def test_memory_copy(benchmark, labels, copy_bandwidth):
    """The bandwidth reference: numpy copying the LARGEST^3 uint64 labels into a reused buffer."""
    benchmark.group = f"seg_to_affinity {LARGEST}^3 uint64 3 offsets"
    seg = labels(LARGEST, "uint64")
    dst = np.empty_like(seg)
    benchmark.pedantic(np.copyto, args=(dst, seg), rounds=7, warmup_rounds=1)
    benchmark.extra_info.update(copy_bandwidth_gb_s=round(copy_bandwidth / 1e9, 2))


FIBSEM_SIZE = full_or_smoke(256, 64)
FIBSEM_IMPLEMENTATIONS = ["pytc-1thread", f"pytc-{ALL}threads", "pytc-1thread-out", "numpy-reference"]


@pytest.fixture(scope="module")
def fibsem_labels():
    """(uint64 labels, the numpy reference's best time in seconds on them with NEAREST)."""
    seg = fibsem_metrics_case(FIBSEM_SIZE)[1].astype(np.uint64)
    return seg, best_seconds(lambda: seg_to_affinity_ref(seg, NEAREST), repeat=5)


@pytest.mark.parametrize("impl", FIBSEM_IMPLEMENTATIONS)
def test_seg_to_affinity_fibsem(benchmark, fibsem_labels, copy_bandwidth, impl):
    seg, numpy_seconds = fibsem_labels
    benchmark.group = f"seg_to_affinity {FIBSEM_SIZE}^3 FIB-SEM-like gt uint64 3 offsets"
    run(benchmark, impl, seg, NEAREST, copy_bandwidth)
    seconds = timed_seconds(benchmark)
    if seconds is not None:
        benchmark.extra_info["times_numpy"] = round(numpy_seconds / seconds, 2)


@pytest.mark.parametrize("impl", ["pytc-1thread", "numpy-reference"])
def test_seg_to_affinity_fibsem_peak_memory(fibsem_labels, record_property, tmp_path_factory, impl):
    """Peak RSS above the loaded labels (MiB) of one call with a fresh output, in a fresh process,
    against the output's size and the floor (input + output). Reported, never asserted."""
    seg = fibsem_labels[0]
    call = {
        "pytc-1thread": "seg_to_affinity(inputs[0], NEAREST, threads=1)",
        "numpy-reference": "seg_to_affinity_ref(inputs[0], NEAREST)",
    }[impl]
    mib = peak_memory_mib(
        f"from pytc.kernels import seg_to_affinity, seg_to_affinity_ref; NEAREST = {NEAREST!r}",
        call,
        [seg],
        tmp_path_factory.getbasetemp() / "affinity_fibsem_inputs",
    )
    output_mib = len(NEAREST) * seg.size * 4 / 2**20
    record_property("peak_mib_above_input", round(mib, 1))
    record_property("times_output", round(mib / output_mib, 2))
    record_property("times_input_plus_output", round((mib + seg.nbytes / 2**20) / (output_mib + seg.nbytes / 2**20), 2))
    print(f"seg_to_affinity FIB-SEM {impl}: peak {mib:.0f} MiB above the input; output {output_mib:.0f} MiB")
