"""Training on the CPU: the trainer's overhead over a bare loop, and the share of time it waits for data.

The bare loop is forward, loss, backward and optimiser step on the same prefetched batches with the same
model (the `demo` config: a 4-level 3D U-Net on 2 x 32 x 64 x 64 gala samples). The trainer runs the same
steps through `Trainer.train`, with its hooks (learning-rate schedule, loss parts, metrics.jsonl and
TensorBoard every 20 iterations, the final checkpoint) but no validation.
"""

import itertools

import pytest
import torch
from bench_utils import full_or_smoke, timed_seconds

from pytc.config import apply_overrides, load_config
from pytc.data.tasks import task_layout
from pytc.losses import criterion_from_layout
from pytc.models import model_from_config
from pytc.train import Trainer
from pytc.train.run import resolve_volumes
from pytc.train.trainer import _as_batch

ITERATIONS = full_or_smoke(12, 2)
times = {}


def demo_config(folder, *overrides):
    cfg = load_config(
        "demo",
        [
            ("output", str(folder)),
            ("val.every", 0),
            ("solver.minutes", 0),
            ("solver.iterations", ITERATIONS),
            ("log.progress", False),
            ("system.num_workers", 0),
            ("system.threads", torch.get_num_threads()),
        ],
    )
    cfg = apply_overrides(cfg, overrides)
    resolve_volumes(cfg)
    return cfg


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    """ITERATIONS batches of the demo pipeline, drawn once."""
    cfg = demo_config(tmp_path_factory.mktemp("draw"))
    trainer = Trainer(cfg, tmp_path_factory.mktemp("draw_run"))
    return [next(trainer.loader) for _ in range(ITERATIONS)]


class Prefetched(Trainer):
    """The trainer fed the prefetched batches instead of its DataLoader."""

    batches = None

    def build_loader(self):
        return itertools.cycle(self.batches)


def test_bare_loop(benchmark, batches, tmp_path):
    benchmark.group = "training iteration, demo config (CPU)"
    cfg = demo_config(tmp_path)

    def setup():
        torch.manual_seed(0)
        model = model_from_config(cfg).to(memory_format=torch.channels_last_3d)
        criterion = criterion_from_layout(task_layout(cfg.tasks))
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.solver.lr, weight_decay=cfg.solver.weight_decay)
        return (model, criterion, optimizer), {}

    def loop(model, criterion, optimizer):
        for batch in batches:
            x, target, weight = _as_batch(batch, torch.device("cpu"), True)
            loss, _ = criterion(model(x), target, weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    benchmark.pedantic(loop, setup=setup, rounds=3, warmup_rounds=1)
    times["bare"] = timed_seconds(benchmark)
    if times["bare"]:
        benchmark.extra_info["seconds_per_iteration"] = times["bare"] / ITERATIONS


def test_trainer(benchmark, batches, tmp_path):
    benchmark.group = "training iteration, demo config (CPU)"
    Prefetched.batches = batches
    runs = itertools.count()

    def setup():
        cfg = demo_config(tmp_path / f"run{next(runs)}")
        return (Prefetched(cfg, tmp_path / cfg.output),), {}

    benchmark.pedantic(lambda trainer: trainer.train(), setup=setup, rounds=3, warmup_rounds=1)
    seconds = timed_seconds(benchmark)
    if seconds and times.get("bare"):
        benchmark.extra_info["seconds_per_iteration"] = seconds / ITERATIONS
        benchmark.extra_info["overhead_vs_bare_loop"] = seconds / times["bare"] - 1


@pytest.mark.untracked("the figure is the share of time spent waiting for data, over one round")
@pytest.mark.parametrize("workers", [2])
def test_data_wait_share(benchmark, tmp_path, workers):
    """Share of the training time spent waiting for batches, with the demo's augmentations and `workers`
    DataLoader workers (after their start-up and the first batches)."""
    benchmark.group = "training data wait share, demo config (CPU)"
    cfg = demo_config(tmp_path, ("system.num_workers", workers), ("solver.iterations", 4 * ITERATIONS))
    trainer = Trainer(cfg, tmp_path)
    for _ in range(4):  # workers started, numba kernels loaded
        trainer.step()
    trainer.data_wait = 0.0

    def steps():
        for _ in range(ITERATIONS):
            trainer.step()

    benchmark.pedantic(steps, rounds=1, iterations=1)
    seconds = timed_seconds(benchmark)
    if seconds:
        benchmark.extra_info["data_wait_share"] = trainer.data_wait / seconds
