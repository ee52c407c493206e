"""Choosing patches of a pool volume to annotate, and the selection folder that records them.

A selection folder holds:
  manifest.json   the pool, checkpoint, strategy, uncertainty settings, patch shape, timings, and one entry per
                  patch (name, start, shape, score, rank), in pick order;
  crops.h5        one group per patch, ``<name>/image``: the pool's crop, to hand to an annotator;
  uncertainty.h5  ``uncertainty``: the pool's (Z, Y, X) uncertainty map.
`python -m pytc.view --run SELECTION` shows the pool, the uncertainty map and the patches as boxes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import open_volume, split_dataset, write_volume
from ..inference.api import Prepared, _open
from ..inference.predict import Source
from ..validation import as_shape, check_choice, fail
from .patches import AGGREGATES, grid_patches, patch_scores, region_patches
from .strategies import STRATEGIES, select_patches
from .uncertainty import REDUCTIONS, SOURCES, prediction_samples, reduce_samples

MANIFEST = "manifest.json"
CANDIDATES = ("grid", "regions")


@dataclass
class Selection:
    """The patches picked from a pool (starts (N, 3) in pick order, their scores) and how they were picked."""

    pool: str
    patch: tuple[int, int, int]
    starts: np.ndarray
    scores: np.ndarray
    strategy: str
    uncertainty: np.ndarray | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [f"patch_{i:03d}" for i in range(len(self.starts))]

    def manifest(self) -> dict[str, Any]:
        return {
            "version": 1,
            "pool": self.pool,
            "strategy": self.strategy,
            "patch": list(self.patch),
            **self.settings,
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "patches": [
                {
                    "name": name,
                    "start": [int(v) for v in start],
                    "shape": list(self.patch),
                    "score": float(score),
                    "rank": rank,
                }
                for rank, (name, start, score) in enumerate(zip(self.names, self.starts, self.scores))
            ],
        }


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """The manifest of a selection folder; FileNotFoundError names the folder when it has none."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"active: `selection` must be a selection folder holding {MANIFEST}; got {folder}")
    return json.loads(path.read_text())


def labelled_starts(folders: Sequence[str | os.PathLike], pool: str, patch: Sequence[int]) -> np.ndarray:
    """(M, 3) starts of the patches of earlier selection folders of the same pool (already annotated)."""
    starts = []
    for folder in folders:
        manifest = read_manifest(folder)
        if manifest["pool"] != pool:
            raise fail("select", "exclude", f"selections of the pool {pool}", f"{folder} of {manifest['pool']}")
        starts += [p["start"] for p in manifest["patches"]]
    return np.array(starts, np.int64).reshape(-1, 3)


@torch.inference_mode()
def encoder_features(prepared: Prepared, source: Source, starts: np.ndarray, patch: Sequence[int]) -> np.ndarray:
    """(N, D) float32: the model's deepest encoder features of each patch, averaged over space."""
    model = prepared.model
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    try:
        for start in np.asarray(starts).reshape(-1, 3):
            window = tuple(slice(s, s + p) for s, p in zip(start, patch))
            x = torch.from_numpy(source.read(window)[None]).to(device)
            if getattr(model, "ndim", 3) == 2:  # a 2D model: the patch's sections as a batch
                x = x[0].transpose(0, 1)
            deepest = model.encoder(x)[-1]
            out.append(deepest.float().mean(dim=tuple(range(2, deepest.ndim))).mean(0).cpu().numpy())
    finally:
        model.train(was_training)
    return np.stack(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)


def _block_means(volume, starts, patch, size=(4, 8, 8)):
    """Each patch of `volume` averaged down to at most `size` blocks, flattened: a small feature vector."""
    rows = []
    for start in starts:
        crop = np.asarray(volume[tuple(slice(s, s + p) for s, p in zip(start, patch))], np.float32)
        bins = [np.array_split(np.arange(n), min(n, b)) for n, b in zip(crop.shape, size)]
        rows.append([crop[np.ix_(a, b, c)].mean() for a in bins[0] for b in bins[1] for c in bins[2]])
    return np.array(rows, np.float32)


def strategy_inputs(
    strategy: str,
    checkpoint: str | os.PathLike,
    volume: Any,
    uncertainty: np.ndarray | None,
    starts: np.ndarray,
    patch: Sequence[int],
    taken: np.ndarray,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """What `strategy` needs besides the scores (see `select_patches`): the `taken` (labelled) starts, the
    model's encoder features of the candidates and of the taken patches (coreset, diversity), or the image and
    uncertainty streams (two_stream)."""
    inputs: dict[str, Any] = {"taken": taken}
    if strategy in ("coreset", "diversity"):
        prepared = Prepared(checkpoint, device=device)
        source = Source(volume, prepared.normalization)
        inputs["features"] = encoder_features(prepared, source, starts, patch)
        if len(taken):
            inputs["labelled_features"] = encoder_features(prepared, source, taken, patch)
    elif strategy == "two_stream":
        inputs["streams"] = (_block_means(volume, starts, patch), _block_means(uncertainty, starts, patch))
    return inputs


def select(
    checkpoint: str | os.PathLike | Sequence[str | os.PathLike],
    pool: str,
    budget: int,
    patch: Sequence[int],
    strategy: str = "uncertainty",
    *,
    source: str = "tta",
    samples: int = 8,
    reduce: str = "entropy",
    candidates: str = "grid",
    stride: Sequence[int] | None = None,
    aggregate: str = "mean",
    exclude: Sequence[str | os.PathLike] = (),
    seed: int = 0,
    device: str | torch.device = "cpu",
    output: str | os.PathLike | None = None,
) -> Selection:
    """Picks `budget` patches of the `pool` volume (``PATH[:DATASET]``) to annotate next.

    The model (`checkpoint`, a file or run folder; several for `source` 'ensemble') predicts the pool
    `samples` times, reduced to a per-voxel uncertainty map (`pytc.active.uncertainty`); candidates of
    `patch` shape lie on a grid (`stride`, default the patch) or on connected regions of high uncertainty
    ('regions'), scored by the `aggregate` of the map over them; `strategy` picks among those free of the
    patches of earlier selections (`exclude`, selection folders). With `output`, the selection folder is
    written (see the module docstring).
    """
    check_choice(strategy, "select", "strategy", STRATEGIES.names())
    check_choice(source, "select", "source", SOURCES)
    check_choice(reduce, "select", "reduce", REDUCTIONS)
    check_choice(candidates, "select", "candidates", CANDIDATES)
    check_choice(aggregate, "select", "aggregate", AGGREGATES)
    patch = as_shape(patch, "select", "patch")
    path, dataset = split_dataset(str(pool))
    pool = str(Path(path).absolute()) + (f":{dataset}" if dataset else "")
    checkpoints = [str(c) for c in checkpoint] if isinstance(checkpoint, (list, tuple)) else str(checkpoint)
    volume = _open(pool)
    if len(volume.shape) != 3:
        raise fail("select", "pool", "a 3D (Z, Y, X) image volume", f"shape {tuple(volume.shape)}")
    timings = {}

    start = time.perf_counter()
    generated, tasks = prediction_samples(checkpoints, volume, source, samples, device=device, seed=seed)
    uncertainty = reduce_samples(generated, tasks, reduce)
    timings["model"] = time.perf_counter() - start

    start = time.perf_counter()
    taken = labelled_starts(exclude, pool, patch)
    if candidates == "grid":
        starts = grid_patches(uncertainty.shape, patch, stride)
    else:
        starts = region_patches(uncertainty, patch)
    scores = patch_scores(uncertainty, starts, patch, aggregate)
    timings["candidates"] = time.perf_counter() - start

    start = time.perf_counter()
    first = checkpoints[0] if isinstance(checkpoints, list) else checkpoints
    inputs = strategy_inputs(strategy, first, volume, uncertainty, starts, patch, taken, device)
    if strategy in ("coreset", "diversity"):
        timings["features"] = time.perf_counter() - start

    start = time.perf_counter()
    picked = select_patches(strategy, starts, scores, budget, patch, seed=seed, **inputs)
    timings["selection"] = time.perf_counter() - start
    if len(picked) < budget:
        print(f"select: only {len(picked)} free patches for a budget of {budget}")
    selection = Selection(
        pool,
        patch,
        starts[picked],
        scores[picked],
        strategy,
        uncertainty,
        settings={
            "checkpoint": checkpoints,
            "uncertainty": {"source": source, "samples": samples, "reduce": reduce},
            "candidates": candidates,
            "aggregate": aggregate,
            "seed": seed,
            "exclude": [str(Path(e).absolute()) for e in exclude],
        },
        timings=timings,
    )
    if output is not None:
        write_selection(selection, output, volume)
    return selection


def write_selection(selection: Selection, folder: str | os.PathLike, volume: Any = None) -> Path:
    """Writes the selection folder: manifest.json, crops.h5 (each patch's image), uncertainty.h5."""
    import h5py

    folder = Path(folder)
    if (folder / MANIFEST).exists():
        raise FileExistsError(f"select: `output` {folder} already holds a selection; choose a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    volume = volume if volume is not None else open_volume(*split_dataset(selection.pool))
    with h5py.File(folder / "crops.h5", "w") as f:
        f.attrs["pool"] = selection.pool
        for name, start in zip(selection.names, selection.starts):
            region = tuple(slice(int(s), int(s) + p) for s, p in zip(start, selection.patch))
            f.create_dataset(f"{name}/image", data=np.asarray(volume[region]), compression="gzip")
            f[name].attrs["start"] = [int(s) for s in start]
    if selection.uncertainty is not None:
        write_volume(folder / "uncertainty.h5", selection.uncertainty, "uncertainty")
    (folder / MANIFEST).write_text(json.dumps(selection.manifest(), indent=2) + "\n")
    return folder
