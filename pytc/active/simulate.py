"""Does active learning save annotation? A simulated loop on real data, where an oracle reveals ground truth.

Each run starts from a small labelled seed (random patches of the pool volume) and a model trained on it. Each
round, a strategy picks a fixed budget of patches, the oracle labels them (their ground truth, masked to the
patch: the rest of the pool stays unlabelled), the model is fine-tuned for a fixed number of iterations on
everything labelled so far (the loss masked outside the patches), and it is evaluated on a held-out volume.
The curves of accuracy against annotated voxels, for each strategy and seed, say how much annotation each
strategy needs to reach the accuracy that random selection reaches at the end.

Tasks (read from the real data folder, $PYTC_DATA or ../shared/data):
  neurons       gala FIB-SEM (train: pool, test: held out), affinities, scored by 1 - adapted Rand error of
                watershed and agglomeration at the best of a few thresholds;
  mitochondria  Drosophila VNC ssTEM stack 1 (sections 0-13: pool, 14-19: held out; the central 512 x 512),
                foreground and contour targets, scored by the IoU of the foreground at 0.5.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data import read_volume, write_volume
from ..validation import check_choice, check_number, fail
from .patches import grid_patches, patch_scores
from .strategies import STRATEGIES, select_patches
from .uncertainty import uncertainty_map

TASKS = ("neurons", "mitochondria")


def data_folder(folder: str | os.PathLike | None = None) -> Path:
    """The real data folder: `folder`, else $PYTC_DATA, else ../shared/data from the working directory."""
    path = Path(folder or os.environ.get("PYTC_DATA") or Path("..") / "shared" / "data")
    if not path.is_dir():
        raise FileNotFoundError(f"simulate: the real data folder {path} does not exist; set PYTC_DATA or --data")
    return path


@dataclass
class SimulationTask:
    """A pool to select from, a held-out volume, and how to train and score a model of them."""

    name: str
    pool_image: np.ndarray
    pool_label: np.ndarray
    test_image: np.ndarray
    test_label: np.ndarray
    patch: tuple[int, int, int]
    config: str
    overrides: list[tuple[str, Any]] = field(default_factory=list)
    metric: str = ""
    score: Callable[[str], float] | None = None  # run folder -> accuracy (higher is better)


def _neurons(data):
    from ..inference import predict
    from ..kernels import agglomerate
    from ..metrics import adapted_rand

    folder = data / "gala_fibsem_mini"
    test_image = read_volume(folder / "test-image.h5", "stack")
    test_label = read_volume(folder / "test-gt.lzf.h5", "stack")

    def score(run_dir):
        affinities = predict(run_dir, test_image, which="last", window=test_image.shape)
        segmentations = agglomerate(np.ascontiguousarray(affinities[:3]), [0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
        return 1 - min(adapted_rand(seg, test_label) for seg in segmentations)

    return SimulationTask(
        "neurons",
        read_volume(folder / "train-image.h5", "stack"),
        read_volume(folder / "train-gt.lzf.h5", "stack"),
        test_image,
        test_label,
        patch=(10, 32, 32),
        config="demo",
        overrides=[
            ("model.filters", [8, 16, 32]),
            ("model.isotropy", [True, True, True]),
            ("data.sample_shape", [10, 32, 32]),
            ("val.thresholds", [0.3, 0.5]),
        ],
        metric="1 - adapted Rand error",
        score=score,
    )


def _mitochondria(data):
    from ..inference import predict

    folder = data / "drosophila_vnc_sstem_stack1"
    crop = (slice(None), slice(256, 768), slice(256, 768))
    image = read_volume(folder / "raw")[crop]
    label = (read_volume(folder / "mitochondria")[crop] > 0).astype(np.uint8)

    def score(run_dir):
        foreground = predict(run_dir, image[14:], which="last", window=(6, 256, 256))[0] > 0.5
        truth = label[14:] > 0
        union = (foreground | truth).sum()
        return float((foreground & truth).sum() / union) if union else 1.0

    return SimulationTask(
        "mitochondria",
        image[:14],
        label[:14],
        image[14:],
        label[14:],
        patch=(4, 128, 128),
        config="mitochondria",
        overrides=[
            ("model.block", "plain"),
            ("model.filters", [8, 16, 32]),
            ("model.isotropy", [False, False, False]),
            ("data.sample_shape", [4, 128, 128]),
            ("data.augment.preset", "none"),
            ("inference.window", [14, 256, 256]),  # fully convolutional: few large windows predict fast
        ],
        metric="IoU of mitochondria",
        score=score,
    )


def load_task(name: str, data: str | os.PathLike | None = None) -> SimulationTask:
    check_choice(name, "simulate", "task", TASKS)
    return {"neurons": _neurons, "mitochondria": _mitochondria}[name](data_folder(data))


def _write_labels(task, starts, path):
    """The oracle: the pool's ground truth inside the labelled patches, 0 elsewhere, with the valid mask."""
    label = np.zeros(task.pool_label.shape, np.uint32)
    mask = np.zeros(task.pool_label.shape, np.uint8)
    for start in starts:
        region = tuple(slice(int(s), int(s) + p) for s, p in zip(start, task.patch))
        label[region] = task.pool_label[region]
        mask[region] = 1
    write_volume(path, label, "label")
    write_volume(path, mask, "mask", mode="a")
    return int(mask.sum())


def _fine_tune(task, work, run_dir, labels, iterations, init, seed, threads):
    from ..config import load_config
    from ..train import train

    overrides = [
        ("output", str(run_dir)),
        ("data.train.image", [f"{work / 'pool.h5'}:image"]),
        ("data.train.label", [f"{labels}:label"]),
        ("data.train.mask", [f"{labels}:mask"]),
        ("data.val.image", []),
        ("data.val.label", []),
        ("data.min_valid", 0.5),
        ("data.augment.extra", []),
        ("solver.iterations", iterations),
        ("solver.minutes", 0),
        ("solver.warmup", min(20, iterations // 4)),
        ("val.every", 0),
        ("checkpoint.every", iterations),
        ("system.num_workers", 0),
        ("system.threads", threads),
        ("system.seed", seed),
        ("log.progress", False),
        ("log.image_every", 0),
        *task.overrides,
    ]
    return train(load_config(task.config, overrides), init_weights=init)[0]


def _pick(task, strategy, run_dir, candidates, labelled, budget, seed):
    """The next patches `strategy` picks with the model of `run_dir`."""
    from .select import strategy_inputs

    uncertainty, scores = None, np.zeros(len(candidates))
    if strategy != "random":
        uncertainty = uncertainty_map(str(run_dir), task.pool_image, "tta", 4, "entropy")
        scores = patch_scores(uncertainty, candidates, task.patch)
    inputs = strategy_inputs(strategy, str(run_dir), task.pool_image, uncertainty, candidates, task.patch, labelled)
    picked = select_patches(strategy, candidates, scores, budget, task.patch, seed=seed, **inputs)
    return candidates[picked]


def simulate(
    task: str | SimulationTask,
    output: str | os.PathLike,
    strategies: Sequence[str] = ("random", "uncertainty", "coreset", "diversity"),
    seeds: Sequence[int] = (0, 1, 2),
    rounds: int = 4,
    budget: int = 3,
    seed_patches: int = 2,
    iterations: int = 60,
    first_iterations: int | None = None,
    threads: int = 2,
    data: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Runs the simulated annotation loop (see the module docstring) and returns (and writes to
    `output`/results.json) every round's annotated voxels and accuracy, for each strategy and seed.

    All strategies of a seed share its seed patches and first model; each round then picks `budget` patches,
    fine-tunes for `iterations` and scores the model on the held-out volume.
    """
    for strategy in strategies:
        STRATEGIES.get(strategy)
    check_number(rounds, "simulate", "rounds", low=1, integer=True)
    check_number(budget, "simulate", "budget", low=1, integer=True)
    check_number(seed_patches, "simulate", "seed_patches", low=1, integer=True)
    task = load_task(task, data) if isinstance(task, str) else task
    work = Path(output)
    work.mkdir(parents=True, exist_ok=True)
    write_volume(work / "pool.h5", task.pool_image, "image")
    candidates = grid_patches(task.pool_image.shape, task.patch)
    if len(candidates) < seed_patches + rounds * budget:
        raise fail("simulate", "rounds", f"at most what the pool's {len(candidates)} patches allow", rounds)
    log = progress or (lambda _: None)
    records = []
    for seed in seeds:
        start = time.perf_counter()
        seed_starts = candidates[
            select_patches(
                "random", candidates, np.zeros(len(candidates)), seed_patches, task.patch, seed=10_000 + seed
            )
        ]
        labels = work / f"seed{seed}_labels.h5"
        seed_voxels = _write_labels(task, seed_starts, labels)
        first = _fine_tune(
            task, work, work / f"seed{seed}" / "round0", labels, first_iterations or 2 * iterations, None, seed, threads
        )
        first_score = task.score(first)
        log(f"seed {seed}: seed patches {seed_voxels} voxels, {task.metric} {first_score:.4f}")
        for strategy in strategies:
            labelled, run_dir = seed_starts, first
            records.append(dict(strategy=strategy, seed=seed, round=0, voxels=seed_voxels, score=first_score))
            for r in range(1, rounds + 1):
                picked = _pick(task, strategy, run_dir, candidates, labelled, budget, seed * 1000 + r)
                labelled = np.concatenate([labelled, picked])
                labels = work / f"seed{seed}" / strategy / f"labels{r}.h5"
                labels.parent.mkdir(parents=True, exist_ok=True)
                voxels = _write_labels(task, labelled, labels)
                run_dir = _fine_tune(
                    task, work, labels.parent / f"round{r}", labels, iterations, _checkpoint(run_dir), seed, threads
                )
                score = task.score(run_dir)
                records.append(dict(strategy=strategy, seed=seed, round=r, voxels=voxels, score=score))
                log(f"seed {seed} {strategy:>11} round {r}: {voxels} voxels, {task.metric} {score:.4f}")
        log(f"seed {seed} done in {time.perf_counter() - start:.0f} s")
    results = {
        "task": task.name,
        "metric": task.metric,
        "pool_shape": list(task.pool_image.shape),
        "patch": list(task.patch),
        "budget": budget,
        "seed_patches": seed_patches,
        "iterations": iterations,
        "records": records,
        "summary": summarize(records),
    }
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def _checkpoint(run_dir):
    from ..models.checkpoint import list_checkpoints

    return str(list_checkpoints(run_dir)[-1][1])


def summarize(records: Sequence[dict]) -> dict[str, Any]:
    """Per strategy: the mean (and std over seeds) accuracy and annotated voxels of each round, and the
    annotation it needs to reach random selection's final mean accuracy, as a fraction of random's."""
    summary: dict[str, Any] = {}
    for strategy in sorted({r["strategy"] for r in records}):
        rows = [r for r in records if r["strategy"] == strategy]
        rounds = sorted({r["round"] for r in rows})
        curve = []
        for k in rounds:
            scores = [r["score"] for r in rows if r["round"] == k]
            voxels = [r["voxels"] for r in rows if r["round"] == k]
            curve.append(
                {
                    "round": k,
                    "voxels": float(np.mean(voxels)),
                    "score": float(np.mean(scores)),
                    "std": float(np.std(scores)),
                    "seeds": len(scores),
                }
            )
        summary[strategy] = {"curve": curve}
    if "random" in summary:
        target = summary["random"]["curve"][-1]
        for entry in summary.values():
            reached = next((p for p in entry["curve"] if p["score"] >= target["score"]), None)
            entry["fraction_of_random_annotation"] = None if reached is None else reached["voxels"] / target["voxels"]
    return summary


def plot(results: Sequence[dict[str, Any]], path: str | os.PathLike) -> None:
    """A PNG of the curves (mean accuracy against annotated voxels, a band of one std over seeds), one panel
    per task. Needs matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("simulate: the plot needs matplotlib: pip install matplotlib") from e
    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 3.8), squeeze=False)
    for ax, result in zip(axes[0], results):
        for strategy, entry in result["summary"].items():
            curve = entry["curve"]
            x = np.array([p["voxels"] for p in curve]) / 1e3
            y = np.array([p["score"] for p in curve])
            s = np.array([p["std"] for p in curve])
            ax.plot(x, y, marker="o", label=strategy)
            ax.fill_between(x, y - s, y + s, alpha=0.15)
        seeds = max(p["seeds"] for e in result["summary"].values() for p in e["curve"])
        ax.set_title(f"{result['task']} ({seeds} seeds)")
        ax.set_xlabel("annotated voxels (thousands)")
        ax.set_ylabel(result["metric"])
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
