"""pytc watershed vs waterz's initial watershed (agglomerate with thresholds=[0]) on the same affinities."""

import numpy as np
import pytest

from pytc.kernels import max_threads
from pytc.kernels._watershed import watershed
from pytc.testing import read_gala

ALL = max_threads()


def boundary_affinities(p):
    p = p.astype(np.float32)
    aff = np.zeros((3,) + p.shape, np.float32)
    aff[0, 1:] = 1 - np.maximum(p[1:], p[:-1])
    aff[1, :, 1:] = 1 - np.maximum(p[:, 1:], p[:, :-1])
    aff[2, :, :, 1:] = 1 - np.maximum(p[:, :, 1:], p[:, :, :-1])
    return aff


@pytest.mark.parametrize("impl", ["pytc-1thread", f"pytc-{ALL}threads", "waterz"])
def test_watershed_gala(benchmark, impl):
    waterz = pytest.importorskip("waterz")
    from skimage.metrics import adapted_rand_error

    benchmark.group = "watershed gala train-p1 (50, 100, 200)"
    aff = boundary_affinities(read_gala("train-p1"))
    gt = read_gala("train-gt")
    fns = {
        "pytc-1thread": lambda: watershed(aff, size_threshold=0, dust=0, threads=1),
        f"pytc-{ALL}threads": lambda: watershed(aff, size_threshold=0, dust=0, threads=ALL),
        "waterz": lambda: next(iter(waterz.agglomerate(aff, [0]))).copy(),
    }
    seg = fns[impl]()
    benchmark.pedantic(fns[impl], rounds=3, warmup_rounds=1)
    benchmark.extra_info.update(fragments=int(len(np.unique(seg[seg > 0]))),
                                adapted_rand_error=float(adapted_rand_error(gt, seg, ignore_labels=(0,))[0]))
