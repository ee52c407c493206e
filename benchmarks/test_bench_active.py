"""Selection for annotation against the model passes it needs, on the gala FIB-SEM test volume as the pool
(50 x 100 x 200) with a small model trained by pytc.train:

- the model passes (8 test-time variants), reduced to entropy: what selection must be fast next to;
- scoring every candidate patch (10 x 32 x 32, on a grid of stride 5 x 16 x 16: overlapping candidates) by a
  summed-volume table, against slicing each candidate (the reference);
- each strategy's pick of 10 patches among them (coreset and diversity with the model's encoder features).
The figures land in extra_info (seconds), with the ratio of each step to the model passes.
"""

import numpy as np
import pytest
from bench_utils import full_or_smoke, timed_seconds

from pytc.active import grid_patches, patch_scores, prediction_samples, reduce_samples, select_patches
from pytc.active.patches import patch_scores_reference
from pytc.active.select import strategy_inputs
from pytc.active.strategies import STRATEGIES
from pytc.testing import read_gala, tiny_config
from pytc.train import train

pytestmark = pytest.mark.real_data
PATCH = (10, 32, 32)
STRIDE = (5, 16, 16)
BUDGET = 10
times = {}


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """A small trained model, the pool (gala test), its entropy map from 8 test-time variants, the candidates."""
    cfg = tiny_config(tmp_path_factory.mktemp("active"), "solver.iterations=20", "val.every=0", "model.filters=[8, 16]")
    run_dir = str(train(cfg)[0])
    image = read_gala("test-image")
    image = full_or_smoke(image, image[:20, :64, :96])
    samples, tasks = prediction_samples(run_dir, image, "tta", 8)
    uncertainty = reduce_samples(samples, tasks, "entropy")
    starts = grid_patches(image.shape, PATCH, STRIDE)
    return run_dir, image, uncertainty, starts


def test_model_passes(benchmark, pool):
    run_dir, image, _, _ = pool

    def passes():
        samples, tasks = prediction_samples(run_dir, image, "tta", 8)
        return reduce_samples(samples, tasks, "entropy")

    result = benchmark.pedantic(passes, rounds=3, iterations=1)
    assert result.shape == image.shape
    times["model"] = timed_seconds(benchmark)
    benchmark.extra_info["voxels"] = int(image.size)


@pytest.mark.parametrize("method", ["summed_volume", "reference"])
def test_patch_scores(benchmark, pool, method):
    _, _, uncertainty, starts = pool
    score = patch_scores if method == "summed_volume" else patch_scores_reference
    result = benchmark(score, uncertainty, starts, PATCH)
    np.testing.assert_allclose(result, patch_scores_reference(uncertainty, starts, PATCH))
    times[method] = timed_seconds(benchmark)
    benchmark.extra_info["candidates"] = len(starts)
    if times.get("model") and times[method]:
        benchmark.extra_info["share_of_model_passes"] = times[method] / times["model"]


@pytest.mark.parametrize("strategy", STRATEGIES.names())
def test_strategy(benchmark, pool, strategy):
    run_dir, image, uncertainty, starts = pool
    scores = patch_scores(uncertainty, starts, PATCH)
    inputs = strategy_inputs(strategy, run_dir, image, uncertainty, starts, PATCH, np.zeros((0, 3), np.int64))
    budget = full_or_smoke(BUDGET, 3)
    picked = benchmark(select_patches, strategy, starts, scores, budget, PATCH, **inputs)
    assert len(picked) == budget
    seconds = timed_seconds(benchmark)
    if times.get("model") and seconds:
        benchmark.extra_info["share_of_model_passes"] = seconds / times["model"]
