"""Sliding-window inference on the CPU, on the gala FIB-SEM test volume (50 x 100 x 200) with a model trained by
pytc.train (the demo config, for a short time budget):

- pytc's prediction against the bare forward passes of the same windows (blending and stitching overhead);
- against MONAI's `sliding_window_inference` (Gaussian mode) with the same model, window and overlap: outputs
  compared, then timed;
- voxels/s at larger windows than the training crop (fewer windows, less overlap recomputed), against MONAI at
  the training window, with the adapted Rand error of each decoded prediction;
- peak memory of a chunked prediction of a volume 8 times larger than the chunk, against one chunk alone.
"""

import numpy as np
import pytest
import torch
from bench_utils import peak_memory_mib, require_peer, timed_seconds

from pytc.config import load_config
from pytc.data import Normalization
from pytc.inference import blend_weights, predict_array, sliding_windows
from pytc.kernels import agglomerate
from pytc.metrics import adapted_rand
from pytc.models import load_model
from pytc.testing import read_gala
from pytc.train import train

TRAIN_WINDOW = (32, 64, 64)
OVERLAP = 0.5
SIGMOID = [(0, 3, "sigmoid")]
times = {}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, request):
    """A demo-config model trained for 2 minutes, the normalised test volume and its ground truth. A smoke run
    (--benchmark-disable) trains a few seconds and predicts a corner of the volume, to exercise the code only."""
    smoke = request.config.getoption("benchmark_disable")
    folder = tmp_path_factory.mktemp("inference")
    cfg = load_config(
        "demo",
        [
            ("output", str(folder / "run")),
            ("solver.minutes", 0.05 if smoke else 2.0),
            ("val.every", 0),
            ("log.progress", False),
        ],
    )
    run_dir, _ = train(cfg)
    model, cfg = load_model(run_dir, which="last")
    image, gt = read_gala("test-image"), read_gala("test-gt")
    if smoke:
        image, gt = image[:32, :64, :100], gt[:32, :64, :100]
    norm = Normalization.from_spec(vars(cfg.data.normalize))
    return model, norm.apply(image, norm.fit(image)), gt


def best_are(affinities, gt):
    thresholds = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5]
    segmentations = agglomerate(np.ascontiguousarray(affinities[:3]), thresholds, scoring="quantile-50-histogram")
    return min(adapted_rand(seg, gt) for seg in segmentations)


def monai_predict(model, image, window, **kwargs):
    from monai.inferers import sliding_window_inference

    with torch.inference_mode():
        x = torch.from_numpy(image)[None, None]
        return sliding_window_inference(
            x, window, 1, lambda t: torch.sigmoid(model(t)), overlap=OVERLAP, mode="gaussian", **kwargs
        )[0].numpy()


def test_bare_forward_passes(benchmark, trained):
    benchmark.group = "inference gala test, window 32x64x64, overlap 0.5 (CPU)"
    model, image, _ = trained
    starts = sliding_windows(image.shape, TRAIN_WINDOW, OVERLAP)
    regions = [tuple(slice(s, s + w) for s, w in zip(start, TRAIN_WINDOW)) for start in starts]
    windows = [torch.from_numpy(np.ascontiguousarray(image[region])) for region in regions]

    def forward():
        with torch.inference_mode():
            for x in windows:
                torch.sigmoid(model(x[None, None]))

    benchmark.pedantic(forward, rounds=3, warmup_rounds=1)
    times["bare"] = timed_seconds(benchmark)
    benchmark.extra_info["windows"] = len(starts)


def test_pytc_predict(benchmark, trained):
    benchmark.group = "inference gala test, window 32x64x64, overlap 0.5 (CPU)"
    model, image, gt = trained
    out = benchmark.pedantic(
        lambda: predict_array(model, image, TRAIN_WINDOW, overlap=OVERLAP, activations=SIGMOID),
        rounds=3,
        warmup_rounds=1,
    )
    seconds = timed_seconds(benchmark)
    if seconds and times.get("bare"):
        benchmark.extra_info["overhead_vs_bare_forward"] = seconds / times["bare"] - 1
    times["pytc"] = seconds
    benchmark.extra_info["voxels_per_second"] = image.size / seconds if seconds else None
    benchmark.extra_info["adapted_rand"] = best_are(out, gt)


def test_monai_sliding_window_inference(benchmark, trained):
    require_peer("monai")
    benchmark.group = "inference gala test, window 32x64x64, overlap 0.5 (CPU)"
    model, image, gt = trained
    ours = predict_array(model, image, TRAIN_WINDOW, overlap=OVERLAP, activations=SIGMOID)
    weights = torch.from_numpy(blend_weights(TRAIN_WINDOW))
    same_weights = monai_predict(model, image, TRAIN_WINDOW, roi_weight_map=weights)
    np.testing.assert_allclose(same_weights, ours, atol=1e-5)  # the same windows and blend
    theirs = benchmark.pedantic(lambda: monai_predict(model, image, TRAIN_WINDOW), rounds=3, warmup_rounds=1)
    difference = np.abs(theirs - ours)
    assert difference.mean() < 1e-3  # MONAI's Gaussian is sampled from erf: weights differ by up to 1%
    seconds = timed_seconds(benchmark)
    times["monai"] = seconds
    benchmark.extra_info.update(
        max_difference=float(difference.max()),
        mean_difference=float(difference.mean()),
        adapted_rand=best_are(theirs, gt),
        voxels_per_second=image.size / seconds if seconds else None,
    )
    if seconds and times.get("pytc"):
        benchmark.extra_info["pytc_speedup"] = seconds / times["pytc"]


@pytest.mark.parametrize("window", [(50, 100, 100), (50, 100, 200)])
def test_pytc_larger_windows(benchmark, trained, window):
    """A fully convolutional model takes windows larger than its training crop: fewer windows, less overlap."""
    benchmark.group = "inference gala test, best window (CPU)"
    model, image, gt = trained
    out = benchmark.pedantic(
        lambda: predict_array(model, image, window, overlap=OVERLAP, activations=SIGMOID), rounds=3, warmup_rounds=1
    )
    seconds = timed_seconds(benchmark)
    benchmark.extra_info["adapted_rand"] = best_are(out, gt)
    if seconds:
        benchmark.extra_info["voxels_per_second"] = image.size / seconds
        if times.get("monai"):
            benchmark.extra_info["speedup_vs_monai_training_window"] = times["monai"] / seconds


PEAK_SETUP = "import torch; from pytc.inference import predict; from pytc.models import build_model"
PEAK_RUN = """torch.manual_seed(0)
model = build_model("unet_3d", out_channels=3, filters=(8, 16), isotropy=(True, True)).eval()
predict(model, inputs[0], str(inputs[1]), window=(16, 32, 32), chunk=(16, 64, 64), activations=[(0, 3, "sigmoid")])"""


@pytest.mark.untracked("the figure is peak memory, one round")
@pytest.mark.parametrize("chunks", [1, 8])
def test_chunked_peak_memory(benchmark, tmp_path, chunks):
    """Peak memory above the input of a chunked prediction (zarr, chunks of 16x64x64), for a volume of one
    chunk and of 8 chunks: it follows the chunk, not the volume."""
    benchmark.group = "inference peak memory, chunks of 16x64x64 (MiB)"
    shape = (16, 64, 64) if chunks == 1 else (32, 128, 128)
    image = np.random.default_rng(0).random(shape, dtype=np.float32)
    output = np.array(f"{tmp_path / 'out.zarr'}:p")
    mib = benchmark.pedantic(
        lambda: peak_memory_mib(PEAK_SETUP, PEAK_RUN, [image, output], tmp_path / "inputs"), rounds=1, iterations=1
    )
    benchmark.extra_info["peak_mib"] = mib
    times[f"peak{chunks}"] = mib
    if chunks == 8 and times.get("peak1"):
        benchmark.extra_info["ratio_to_one_chunk"] = mib / times["peak1"]
