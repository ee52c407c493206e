"""Training samples per second of whole data pipelines (read crop with margins, all EM augmentations,
targets), with 0, 1 and 2 DataLoader workers.

neuron: ISBI 2012 image with 3D connected components of its cell-interior label as instances,
        affinity targets; mitochondria: Drosophila VNC ssTEM raw with its mitochondria masks, a binary target
        with class-balancing weights. Both at PyTorch Connectomics' 18 x 160 x 160 sample size.
"""

import time

import numpy as np
import pytest

from pytc.augment import em_augmentations
from pytc.data import VolumeDataset, build_dataloader, read_volume
from pytc.decode import connected_components
from pytc.testing import require_data

SAMPLE = (18, 160, 160)
N_SAMPLES = 48


@pytest.fixture(scope="module")
def volumes():
    isbi_image = read_volume(require_data("isbi2012_train", "image"))
    isbi_cells = connected_components(read_volume(require_data("isbi2012_train", "label")) > 0)
    vnc_raw = read_volume(require_data("drosophila_vnc_sstem_stack1", "raw"))
    vnc_mito = (read_volume(require_data("drosophila_vnc_sstem_stack1", "mitochondria")) > 0).astype(np.uint8)
    return {
        "neuron": (isbi_image, isbi_cells, ["affinity"]),
        "mitochondria": (vnc_raw, vnc_mito, [{"name": "binary", "weight": "ratio"}]),
    }


@pytest.mark.parametrize("workers", [0, 1, 2])
@pytest.mark.parametrize("pipeline", ["neuron", "mitochondria"])
def test_data_pipeline(benchmark, volumes, pipeline, workers):
    benchmark.group = f"data pipeline {pipeline} {SAMPLE} samples/s"
    image, label, targets = volumes[pipeline]
    augment = em_augmentations(SAMPLE)
    ds = VolumeDataset(
        image, label, sample_shape=SAMPLE, augment=augment, targets=targets, pad=(2, 0, 0), length=N_SAMPLES
    )
    item = ds[0]  # compiles the numba kernels before timing (cached on disk afterwards)
    assert item["image"].shape == (1,) + SAMPLE and item["target"].shape[1:] == SAMPLE

    loader = build_dataloader(ds, batch_size=1, num_workers=workers, persistent_workers=True)

    def epoch():
        for _ in loader:
            pass

    start = time.perf_counter()
    benchmark.pedantic(epoch, rounds=2, warmup_rounds=1)  # warm-up: workers start and load the numba cache
    seconds = benchmark.stats.stats.min if benchmark.stats else (time.perf_counter() - start)
    benchmark.extra_info.update(
        samples_per_s=round(N_SAMPLES / seconds, 1),
        workers=workers,
        augmentations=[type(t).__name__ for t in augment.transforms],
    )
