"""Per-voxel uncertainty of a model on a volume, from several stochastic predictions of it.

Samples come from one of three sources:
  tta         the test-time variants of `pytc.inference` (flips, y-x transpose), each inverted;
  mc_dropout  T passes with the model's dropout layers left on (Gal and Ghahramani 2016; train with
              ``model.dropout`` > 0);
  ensemble    one prediction per checkpoint (Lakshminarayanan et al. 2017).
They are reduced per voxel, over the probability tasks (sigmoid or softmax), to one of:
  entropy     the entropy of the mean prediction (total uncertainty);
  variance    the variance across samples, averaged over channels;
  bald        the mutual information between prediction and model (Houlsby et al. 2011): the entropy of the
              mean less the mean entropy of the samples, high where the samples disagree confidently.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from ..inference.api import Prepared, _open
from ..inference.predict import Source
from ..inference.tta import transforms
from ..inference.uncertainty import entropy
from ..models import enable_mc_dropout
from ..validation import check_choice, check_number, fail

SOURCES = ("tta", "mc_dropout", "ensemble")
REDUCTIONS = ("entropy", "variance", "bald")


class _DropoutOn(torch.nn.Module):
    """`model` with its dropout layers kept in training mode whatever `eval()` or `train()` says (the window
    predictor calls `eval()`), so that each forward pass samples a different thinned network; batch norm stays
    in eval mode (`pytc.models.enable_mc_dropout`)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model
        try:
            enable_mc_dropout(model)
        except ValueError:
            raise ValueError(
                "uncertainty: `source` 'mc_dropout' needs a model with dropout layers; train it with "
                "model.dropout > 0, or use 'tta' or 'ensemble'"
            ) from None
        self.ndim = getattr(model, "ndim", 3)

    def train(self, mode: bool = True):
        super().train(mode)
        enable_mc_dropout(self.model)
        return self

    def forward(self, x):
        return self.model(x)


def _probability_channels(activations):
    """The (start, stop, name) tasks with probabilities, renumbered as channels of their own."""
    tasks, start = [], 0
    for first, stop, name in activations:
        if name in ("sigmoid", "softmax"):
            tasks.append(((first, stop), (start, start + stop - first), name))
            start += stop - first
    return tasks


def prediction_samples(
    checkpoints: str | Sequence[str],
    image: Any,
    source: str = "tta",
    samples: int = 8,
    *,
    device: str | torch.device = "cpu",
    window: Sequence[int] | None = None,
    seed: int = 0,
) -> tuple[Iterator[np.ndarray], list[tuple[int, int, str]]]:
    """(iterator of T probability volumes (C, Z, Y, X) float32, their tasks as (start, stop, name)).

    Only the probability tasks (sigmoid, softmax) of the model's outputs are kept. `checkpoints` is one
    checkpoint or run folder ('tta', 'mc_dropout'), or several ('ensemble': one sample each, `samples` unused).
    """
    check_choice(source, "uncertainty", "source", SOURCES)
    single = isinstance(checkpoints, (str, bytes)) or not isinstance(checkpoints, Sequence)
    paths = [checkpoints] if single else list(checkpoints)
    if source == "ensemble" and len(paths) < 2:
        raise fail("uncertainty", "checkpoints", "2 or more for source 'ensemble'", f"{len(paths)}")
    if source != "ensemble" and len(paths) != 1:
        raise fail("uncertainty", "checkpoints", f"one checkpoint for source {source!r}", f"{len(paths)}")
    if source == "tta":
        check_choice(samples, "uncertainty", "samples", (4, 8, 16))  # the test-time variant sets
    elif source == "mc_dropout":
        check_number(samples, "uncertainty", "samples", low=2, integer=True)
    prepared = [Prepared(path, window=window, device=device) for path in paths]
    activations = prepared[0].activations
    tasks = _probability_channels(activations)
    if not tasks:
        raise ValueError("uncertainty: the model has no sigmoid or softmax outputs to be uncertain about")
    volume = Source(_open(image), prepared[0].normalization)
    keep = np.concatenate([np.arange(a, b) for (a, b), _, _ in tasks])

    def generate():
        if source == "tta":
            predictor = prepared[0].predictor(1, False)
            for transform in transforms(samples, predictor.two_d):
                predictor.transforms = [transform]
                yield predictor.predict_region(volume)["mean"][keep]
        elif source == "mc_dropout":
            predictor = prepared[0].predictor(1, False)
            predictor.model = _DropoutOn(prepared[0].model)
            torch.manual_seed(seed)
            for _ in range(samples):
                yield predictor.predict_region(volume)["mean"][keep]
        else:
            for each in prepared:
                yield each.predictor(1, False).predict_region(volume)["mean"][keep]

    return generate(), [(a, b, name) for _, (a, b), name in tasks]


def reduce_samples(samples: Iterator[np.ndarray], tasks: Sequence[tuple[int, int, str]], reduce: str) -> np.ndarray:
    """The (Z, Y, X) float32 uncertainty of probability samples (see the module docstring), averaged over tasks.

    Streams over the samples: memory holds a few volumes, not all samples.
    """
    check_choice(reduce, "uncertainty", "reduce", REDUCTIONS)
    total = total_sq = mean_entropy = None
    count = 0
    for p in samples:
        p = p.astype(np.float64)
        count += 1
        total = p if total is None else total + p
        if reduce == "variance":
            total_sq = p * p if total_sq is None else total_sq + p * p
        elif reduce == "bald":
            h = entropy(p, tasks).astype(np.float64)
            mean_entropy = h if mean_entropy is None else mean_entropy + h
    if count < 2:
        raise fail("uncertainty", "samples", "2 or more predictions", count)
    mean = total / count
    if reduce == "variance":
        return np.clip(total_sq / count - mean * mean, 0, None).mean(0).astype(np.float32)
    h_mean = entropy(mean, tasks).astype(np.float64)
    if reduce == "entropy":
        return h_mean.mean(0).astype(np.float32)
    return np.clip(h_mean - mean_entropy / count, 0, None).mean(0).astype(np.float32)


def uncertainty_map(
    checkpoints: str | Sequence[str],
    image: Any,
    source: str = "tta",
    samples: int = 8,
    reduce: str = "entropy",
    **options: Any,
) -> np.ndarray:
    """The (Z, Y, X) float32 per-voxel uncertainty of a model (or an ensemble) on `image` (an array or a
    ``PATH[:DATASET]``): `samples` predictions from `source`, reduced by `reduce` (see the module docstring).
    `options` are those of `prediction_samples` (device, window, seed)."""
    generated, tasks = prediction_samples(checkpoints, image, source, samples, **options)
    return reduce_samples(generated, tasks, reduce)
