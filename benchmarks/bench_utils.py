"""Helpers for the benchmark suites (plain functions; fixtures live in conftest.py)."""

import os

from pytc._timing import best_time as best_seconds  # noqa: F401  (re-exported for the suites)
from pytc.testing import require_module

# PYTC_BENCH_SMOKE=1 (.ci/run sets it with --benchmark-disable): every benchmark runs once on small synthetic
# inputs, to show that it works; its figures mean nothing then. Real-data inputs keep their size.
SMOKE = os.environ.get("PYTC_BENCH_SMOKE") == "1"


def full_or_smoke(full, smoke):
    """`full` for a measurement, `smoke` under PYTC_BENCH_SMOKE=1."""
    return smoke if SMOKE else full


def require_peer(module):
    """The peer library `module`; when it does not import the benchmark fails under CI (CI=true) and is
    skipped elsewhere."""
    return require_module(module, "this benchmark")


def timed_seconds(benchmark):
    """Best time of a finished pytest-benchmark run, or None under --benchmark-disable."""
    return benchmark.stats.stats.min if benchmark.stats else None


# Runs in a fresh interpreter: loads the .npy inputs named on the command line, resets the peak
# resident set (Linux's VmHWM, which getrusage cannot reset and which sees C++ allocations that
# tracemalloc does not), runs the statement and prints the peak above the loaded inputs in MiB.
_PEAK_SCRIPT = """
import sys
import numpy as np

def status(key):  # kB, from /proc/self/status
    for line in open('/proc/self/status'):
        if line.startswith(key + ':'):
            return int(line.split()[1])

inputs = [np.load(path) for path in sys.argv[2:]]
setup, statement = sys.argv[1].split('\\n', 1)
exec(setup)
with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')  # resets the peak (VmHWM) to the current RSS
base = status('VmRSS')
exec(statement)
print((status('VmHWM') - base) / 1024)
"""


def peak_memory_mib(setup, statement, arrays, folder):
    """Peak memory (MiB above the loaded inputs) of `statement` in a fresh process.

    `arrays` are saved to `folder` (once) and loaded as the list `inputs`; `setup` (one line:
    imports) runs before the peak is reset. Skips where /proc/self/clear_refs is missing.
    """
    import os
    import subprocess
    import sys

    import numpy as np
    import pytest

    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("peak memory is measured through Linux's /proc/self/clear_refs and VmHWM")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, array in enumerate(arrays):
        path = folder / f"input{i}.npy"
        if not path.exists():
            np.save(path, array)
        paths.append(str(path))
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, setup + "\n" + statement, *paths],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def mirror_tiled(volume, size):
    """`volume` tiled to a (size,)*3 cube by mirroring (each tile is its neighbour's mirror image, so
    segments run on across the seams), each tile's nonzero ids moved to their own range (a segment
    cut by a seam becomes two, as in two crops), renumbered 1..n (0 stays 0)."""
    import fastremap
    import numpy as np

    volume = np.asarray(volume)
    reps = [-(-size // n) for n in volume.shape]
    index = np.arange(size)
    tile, within = [index // n for n in volume.shape], [index % n for n in volume.shape]
    mirrored = [np.where(t % 2 == 0, r, n - 1 - r) for t, r, n in zip(tile, within, volume.shape)]
    tiled = volume.astype(np.uint32)[np.ix_(*mirrored)]
    tile = (tile[0][:, None, None] * reps[1] + tile[1][None, :, None]) * reps[2] + tile[2][None, None, :]
    step = np.uint32(int(volume.max()) + 1)
    tiled += (tiled > 0) * (tile.astype(np.uint32) * step)
    return fastremap.renumber(tiled, preserve_zero=True, in_place=True)[0]


def merged_bodies(gt, n_bodies, seed=0):
    """`gt` with touching segments merged at random (across a one-voxel 0 membrane or face to face)
    until `n_bodies` nonzero segments remain: larger bodies, like ground truth of a larger field."""
    import fastremap
    import numpy as np

    pairs = []
    for axis in range(gt.ndim):
        for gap in (1, 2):
            a = np.moveaxis(gt, axis, 0)[:-gap].ravel()
            b = np.moveaxis(gt, axis, 0)[gap:].ravel()
            touching = (a != 0) & (b != 0) & (a != b)
            pairs.append(np.unique(a[touching].astype(np.uint64) << np.uint64(32) | b[touching]))
    pairs = np.unique(np.concatenate(pairs))
    pairs = np.stack([pairs >> np.uint64(32), pairs & np.uint64(2**32 - 1)], axis=1)
    parent = {int(i): int(i) for i in fastremap.unique(gt) if i != 0}

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    n = len(parent)
    for i, j in pairs[np.random.default_rng(seed).permutation(len(pairs))].tolist():
        if n <= n_bodies:
            break
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
            n -= 1
    mapping = {i: root(i) for i in parent}
    return fastremap.renumber(fastremap.remap(gt, mapping, preserve_missing_labels=True), preserve_zero=True)[0]


def fibsem_metrics_case(size=256, n_bodies=500):
    """A segmentation-evaluation case like a real size^3 FIB-SEM crop: (seg, gt).

    Built from gala_fibsem_mini's train volumes (real Drosophila FIB-SEM, (50, 100, 200)), mirror-tiled
    to size^3: seg (uint64) is the real watershed over-segmentation, about 3,800 fragments at 256^3,
    no 0; gt (uint32) is the real neuron ground truth (0 = boundary, about 7% of voxels) with touching
    bodies merged down to `n_bodies` (about 1,900 before the merges at 256^3), as the bodies of a
    larger field of view span more of the crop.
    """
    from pytc.testing import read_gala

    seg = mirror_tiled(read_gala("train-ws"), size)
    gt = mirror_tiled(read_gala("train-gt"), size)
    gt = merged_bodies(gt, min(n_bodies, int(gt.max()) // 2))
    return seg.astype("uint64"), gt.astype("uint32")
