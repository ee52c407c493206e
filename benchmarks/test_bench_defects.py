"""EM-defect augmentations at PyTorch Connectomics' training sample size (output 18x160x160 plus margins).

MotionBlur's kernel (numba, serial: a 160x160 section is too small for threads to pay; 1 and all numba threads) against its scipy reference on the 2 sections it blurs;
MisAlignment and MissingSection as whole augmentations (numpy slicing, no kernel of their own).
"""

import numba
import numpy as np
import pytest
from bench_utils import timed_seconds

from pytc.augment import Compose
from pytc.augment._defects import box_blur_axis
from pytc.augment._reference.defects import box_blur_axis_ref
from pytc.augment.defects import MisAlignment, MissingSection

OUTPUT = (18, 160, 160)
ALL = numba.config.NUMBA_NUM_THREADS
BLUR = ["numba-1thread", f"numba-{ALL}threads", "scipy-reference"]


def _record(benchmark, voxels):
    seconds = timed_seconds(benchmark)
    if seconds is not None:
        benchmark.extra_info["MVx/s"] = voxels / seconds / 1e6


@pytest.mark.parametrize("impl", BLUR)
def test_bench_motion_blur(benchmark, impl):
    benchmark.group = "motion-blur 2 sections of 160x160, kernel 11"
    image = np.random.default_rng(0).random(OUTPUT).astype(np.float32)
    sections = [np.ascontiguousarray(image[z]) for z in (3, 9)]
    expected = [box_blur_axis_ref(s, 11, 1) for s in sections]
    threads = 1 if impl == "numba-1thread" else ALL
    numba.set_num_threads(threads)
    if impl == "scipy-reference":
        fn = lambda: [box_blur_axis_ref(s, 11, 1) for s in sections]  # noqa: E731
    else:
        fn = lambda: [box_blur_axis(s, 11, 1) for s in sections]  # noqa: E731
    for got, want in zip(fn(), expected):
        np.testing.assert_allclose(got, want, atol=1e-5)
    benchmark(fn)
    numba.set_num_threads(ALL)
    benchmark.extra_info["threads"] = threads
    _record(benchmark, 2 * 160 * 160)


@pytest.mark.parametrize("aug", [MisAlignment(p=1), MissingSection(p=1)], ids=["misalignment", "missing-section"])
def test_bench_whole(benchmark, aug):
    benchmark.group = f"defects {type(aug).__name__} 18x160x160"
    compose = Compose([aug], output_shape=OUTPUT)
    shape = compose.input_shape()
    rng = np.random.default_rng(0)
    sample = {"image": rng.random(shape).astype(np.float32), "label": rng.integers(0, 100, shape).astype(np.uint32)}
    assert compose(sample, np.random.default_rng(1))["image"].shape == OUTPUT
    benchmark(lambda: compose(sample, np.random.default_rng(1)))
    _record(benchmark, int(np.prod(OUTPUT)))
