"""Cut, scale and mixing augmentations at PyTorch Connectomics' training sample size (output 18x160x160 plus
each augmentation's margin; batch of 4 for Mixup).

CopyPaste's numba kernel (overlap of the 23 flipped/rotated copies; 1 and all numba threads) against its
numpy reference, then each augmentation whole (p=1) as the data loader runs it, float32 and uint8 images.
CutBlur and CutNoise have no kernel: scipy/numpy on the 4x40x40 cuboid (see pytc/augment/cut.py).
Rescale runs on pytc.augment._warp's numba kernel (threads as numba is configured).
"""

import numba
import numpy as np
import pytest
from bench_utils import timed_seconds

from pytc.augment import Compose, CopyPaste, CutBlur, CutNoise, Mixup, Rescale
from pytc.augment._mix import rotated_overlaps, rotation_sources
from pytc.augment._reference.mix import rotated_overlaps_ref
from pytc.augment.mix import ANGLES

OUTPUT = (18, 160, 160)
ALL = numba.config.NUMBA_NUM_THREADS


def _record(benchmark, voxels):
    seconds = timed_seconds(benchmark)
    if seconds is not None:
        benchmark.extra_info["MVx/s"] = voxels / seconds / 1e6
        benchmark.extra_info["ms"] = seconds * 1e3


def _sparse_label(shape, rng):
    """Mitochondria-like sparse objects: 12 random boxes, about 5% of the volume."""
    label = np.zeros(shape, np.uint32)
    for i in range(12):
        size = rng.integers((3, 10, 10), (8, 30, 30))
        low = [int(rng.integers(0, n - s)) for n, s in zip(shape, size)]
        label[tuple(slice(a, a + s) for a, s in zip(low, size))] = i + 1
    return label


@pytest.mark.parametrize("impl", ["numba-1thread", f"numba-{ALL}threads", "numpy-reference"])
def test_bench_copy_paste_overlaps(benchmark, impl):
    benchmark.group = "copy-paste overlaps of 23 candidate copies, 18x160x160"
    foreground = _sparse_label(OUTPUT, np.random.default_rng(0)) > 0
    sources = np.stack([rotation_sources(a, OUTPUT[1:]) for a in ANGLES])
    flat = foreground.reshape(OUTPUT[0], -1).view(np.uint8)
    expected = rotated_overlaps_ref(foreground, ANGLES)
    threads = 1 if impl == "numba-1thread" else ALL
    numba.set_num_threads(threads)
    try:
        if impl == "numpy-reference":
            fn = lambda: rotated_overlaps_ref(foreground, ANGLES)  # noqa: E731
        else:
            fn = lambda: rotated_overlaps(flat, sources)  # noqa: E731
        for got, want in zip(fn(), expected):
            np.testing.assert_array_equal(got, want)
        if impl == "numpy-reference":
            benchmark.pedantic(fn, rounds=3, warmup_rounds=1)
        else:
            benchmark(fn)
    finally:
        numba.set_num_threads(ALL)
    benchmark.extra_info["threads"] = threads
    _record(benchmark, 2 * len(ANGLES) * int(np.prod(OUTPUT)))


AUGMENTATIONS = {
    "cutblur": lambda: CutBlur(p=1.0),
    "cutnoise": lambda: CutNoise(p=1.0),
    "rescale": lambda: Rescale(p=1.0),
    "copypaste": lambda: CopyPaste(p=1.0),
}


@pytest.mark.parametrize("dtype", [np.float32, np.uint8], ids=["float32", "uint8"])
@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_bench_whole(benchmark, name, dtype):
    benchmark.group = f"mixing {name} output 18x160x160"
    compose = Compose([AUGMENTATIONS[name]()], output_shape=OUTPUT)
    shape = compose.input_shape()
    rng = np.random.default_rng(0)
    image = rng.random(shape).astype(np.float32)
    if dtype == np.uint8:
        image = (image * 255).astype(np.uint8)
    sample = {"image": image, "label": _sparse_label(shape, rng)}
    out = compose(sample, np.random.default_rng(1))
    assert out["image"].shape == OUTPUT and out["image"].dtype == dtype
    assert not np.array_equal(out["image"], compose.__class__([], OUTPUT)(sample, rng)["image"])  # it acted
    benchmark(lambda: compose(sample, np.random.default_rng(1)))
    benchmark.extra_info["input_shape"] = "x".join(map(str, shape))
    benchmark.extra_info["threads"] = ALL
    _record(benchmark, int(np.prod(OUTPUT)))


@pytest.mark.parametrize("dtype", [np.float32, np.uint8], ids=["float32", "uint8"])
def test_bench_mixup(benchmark, dtype):
    benchmark.group = "mixing mixup batch 4x1x18x160x160"
    rng = np.random.default_rng(0)
    batch = rng.random((4, 1) + OUTPUT).astype(np.float32)
    if dtype == np.uint8:
        batch = (batch * 255).astype(np.uint8)
    aug = Mixup()
    out = aug.mix_batch(batch, np.random.default_rng(1))
    assert out.dtype == dtype and sum(not np.array_equal(a, b) for a, b in zip(out, batch)) == 2
    benchmark(lambda: aug.mix_batch(batch, np.random.default_rng(1)))
    _record(benchmark, 4 * int(np.prod(OUTPUT)))
