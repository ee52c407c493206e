"""Training targets and weights (pytc.data.targets), time per call on real labels.

Labels: gala_snemi_mini_labels_only/train-labels.tif cropped to 18x160x160 (gala's SNEMI3D
mini labels; gala_fibsem_mini is only 100 voxels high). Each target is checked against its
expected shape/dtype before timing. numpy/scipy/edt/cc3d code: single-threaded except the
affinity kernel (OpenMP, all threads).
"""

import numpy as np
import pytest
from bench_utils import timed_seconds

from pytc.data import read_volume
from pytc.data.targets import TARGETS, build_targets, weight_binary_ratio, weight_unet
from pytc.kernels import LONG_RANGE_OFFSETS
from pytc.testing import require_data

SHAPE = (18, 160, 160)


@pytest.fixture(scope="module")
def labels():
    vol = read_volume(require_data("gala_snemi_mini_labels_only", "train-labels.tif"))
    return np.ascontiguousarray(vol[: SHAPE[0], : SHAPE[1], : SHAPE[2]]).astype(np.uint32)


CASES = {
    "binary": {},
    "affinity": {},
    "affinity-12": {"offsets": LONG_RANGE_OFFSETS},
    "boundary": {},
    "boundary-3d-t2": {"mode": "3d", "thickness": 2},
    "boundary-convolve": {"convolve": True},
    "instance_edt": {},
    "instance_edt-3d": {"mode": "3d", "resolution": (4.0, 1.0, 1.0)},
    "quantized_edt": {},
    "semantic_edt": {},
    "semantic_edt-3d": {"mode": "3d"},
    "polarity": {},
    "semantic": {},
    "small_object": {},
}


def _record(benchmark, n):
    seconds = timed_seconds(benchmark)
    if seconds is not None:
        benchmark.extra_info.update(
            ms_per_call=round(seconds * 1e3, 2), megavoxels_per_s=round(n / seconds / 1e6, 1), shape=list(SHAPE)
        )


@pytest.mark.parametrize("case", list(CASES))
def test_target(benchmark, labels, case):
    benchmark.group = "targets-18x160x160"
    fn = TARGETS.get(case.split("-")[0])
    opts = CASES[case]
    out = fn(labels, **opts)
    assert out.dtype == np.float32 and out.shape[1:] == labels.shape
    benchmark.pedantic(lambda: fn(labels, **opts), rounds=3, warmup_rounds=1)
    _record(benchmark, labels.size)


@pytest.mark.parametrize("case", ["ratio", "unet"])
def test_weight(benchmark, labels, case):
    benchmark.group = "weights-18x160x160"
    target = TARGETS.get("boundary")(labels)
    fn = (lambda: weight_binary_ratio(target)) if case == "ratio" else (lambda: weight_unet(labels))
    assert fn().shape[-3:] == labels.shape
    benchmark.pedantic(fn, rounds=3 if case == "ratio" else 1, warmup_rounds=1 if case == "ratio" else 0)
    _record(benchmark, labels.size)


def test_build_targets_multitask(benchmark, labels):
    benchmark.group = "build-18x160x160"
    valid = np.ones(labels.shape, np.uint8)
    specs = ["affinity", {"name": "boundary", "weight": "ratio"}, "instance_edt"]
    t, w, ch = build_targets(labels, specs, valid_mask=valid)
    assert t.shape == w.shape == (5,) + labels.shape and ch[-1] == ("instance_edt", 4, 5)
    benchmark.pedantic(lambda: build_targets(labels, specs, valid_mask=valid), rounds=3, warmup_rounds=1)
    _record(benchmark, labels.size)
