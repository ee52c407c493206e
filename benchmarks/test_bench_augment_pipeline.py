"""The full EM augmentation pipeline (`em_augmentations`: every EM augmentation with PyTorch Connectomics'
default probabilities) at PyTorch Connectomics' training sample size, 18 x 160 x 160 output, on real ssTEM
data (Drosophila VNC raw with its membrane-derived cell labels): samples per second on 1 thread and all."""

import numba
import numpy as np
import pytest

from pytc.augment import em_augmentations
from pytc.data import read_volume
from pytc.decode import connected_components
from pytc.testing import require_data

OUTPUT = (18, 160, 160)
SAMPLES = 30


@pytest.fixture(scope="module")
def crops():
    aug = em_augmentations(OUTPUT)
    z, y, x = aug.input_shape()
    raw = read_volume(require_data("drosophila_vnc_sstem_stack1", "raw"))[:z, : y * 2, : x * 2]
    membranes = read_volume(require_data("drosophila_vnc_sstem_stack1", "membranes"))[:z, : y * 2, : x * 2] > 0
    cells = connected_components(~membranes).astype(np.uint32)
    rng = np.random.default_rng(0)
    starts = [(int(rng.integers(0, y + 1)), int(rng.integers(0, x + 1))) for _ in range(SAMPLES)]
    return aug, [{"image": raw[:, a : a + y, b : b + x], "label": cells[:, a : a + y, b : b + x]} for a, b in starts]


@pytest.mark.parametrize("threads", sorted({1, numba.config.NUMBA_NUM_THREADS}))
def test_em_augmentation_pipeline(benchmark, crops, threads):
    aug, samples = crops
    benchmark.group = f"EM augmentation pipeline {OUTPUT}, {len(aug.transforms)} augmentations"
    numba.set_num_threads(threads)
    rng = np.random.default_rng(1)
    out = aug(samples[0], rng)  # compiles (or loads) the numba kernels before timing
    assert out["image"].shape == OUTPUT and out["label"].shape == OUTPUT

    def epoch():
        for sample in samples:
            aug(sample, rng)

    benchmark.pedantic(epoch, rounds=3, warmup_rounds=1)
    if benchmark.stats:
        benchmark.extra_info.update(
            samples_per_s=round(SAMPLES / benchmark.stats.stats.min, 1),
            threads=threads,
            augmentations=[type(t).__name__ for t in aug.transforms],
        )
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
