"""`predict`: a trained model (or a checkpoint or run folder) applied to a volume, in memory or chunk by chunk."""

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import Normalization, open_volume, split_dataset, write_volume
from ..data.tasks import task_layout
from ..kernels import DEFAULT_OFFSETS
from .chunked import DTYPES, default_chunk, is_chunked_format, predict_volume, quantize
from .predict import Source, WindowPredictor
from .uncertainty import entropy, probability_tasks


def channel_offsets(layout, ndim=3):
    """Per output channel, its affinity offset as (z, y, x) (2D offsets get z = 0), or None."""
    offsets = []
    for task in layout:
        n = task.output[1] - task.output[0]
        if task.target["name"] == "affinity":
            found = task.target.get("offsets") or DEFAULT_OFFSETS[ndim]
            offsets += [tuple(o) if len(o) == 3 else (0,) + tuple(o) for o in found]
        else:
            offsets += [None] * n
    return offsets


class Prepared:
    """Everything a prediction needs, from a checkpoint's config or from the caller."""

    def __init__(
        self,
        model_or_checkpoint,
        window=None,
        overlap=None,
        batch=None,
        blending=None,
        activations=None,
        offsets=None,
        normalization=None,
        precision=None,
        channels_last=None,
        device=None,
        which="best",
        weights="auto",
        crop=None,
    ):
        if isinstance(model_or_checkpoint, torch.nn.Module):
            self.model, cfg = model_or_checkpoint, None
            if window is None:
                raise ValueError("predict: give `window` (Z, Y, X) with a model; a checkpoint brings its own")
        else:
            from ..models import load_model

            self.model, cfg = load_model(model_or_checkpoint, which=which, weights=weights, device=device or "cpu")
        self.cfg = cfg
        if cfg is not None:
            layout = task_layout(cfg.tasks, len(cfg.data.sample_shape))
            window = window or cfg.inference.window or cfg.data.sample_shape
            overlap = cfg.inference.overlap if overlap is None else overlap
            batch = batch or cfg.inference.batch
            blending = blending or cfg.inference.blending
            crop = cfg.inference.crop if crop is None else crop
            activations = activations if activations is not None else [(*t.output, t.activation) for t in layout]
            offsets = offsets if offsets is not None else channel_offsets(layout, len(cfg.data.sample_shape))
            normalization = normalization or Normalization.from_spec(vars(cfg.data.normalize))
            precision = precision or cfg.solver.precision
            channels_last = cfg.model.channels_last if channels_last is None else channels_last
        self.window, self.activations, self.offsets = list(window), activations, offsets
        self.options = dict(
            overlap=0.5 if overlap is None else overlap,
            batch=batch or 1,
            blending=blending or "gaussian",
            precision=precision or "fp32",
            channels_last=bool(channels_last),
            crop=0 if crop is None else crop,
        )
        self.normalization, self.device = normalization, device

    def predictor(self, tta, uncertainty):
        return WindowPredictor(
            self.model,
            self.window,
            activations=self.activations,
            offsets=self.offsets,
            tta=tta,
            uncertainty=uncertainty,
            device=self.device,
            **self.options,
        )


def _open(image):
    if isinstance(image, (str, Path)):
        return open_volume(*split_dataset(str(image)))
    return image


def predict(
    model_or_checkpoint: torch.nn.Module | str | os.PathLike,
    image: np.ndarray | str | os.PathLike,
    output: str | os.PathLike | None = None,
    *,
    window: Sequence[int] | None = None,
    overlap: float | Sequence[float] | None = None,
    batch: int | None = None,
    blending: str | None = None,
    crop: int | Sequence[int] | None = None,
    tta: int = 1,
    uncertainty: bool = False,
    chunk: Sequence[int] | None = None,
    dtype: str = "float32",
    activations: Sequence[tuple[int, int, str]] | None = None,
    offsets: Sequence[Sequence[int]] | None = None,
    normalization: Any = None,
    device: torch.device | str | None = None,
    precision: str | None = None,
    channels_last: bool | None = None,
    which: str = "best",
    weights: str = "auto",
    progress: Callable[..., Any] | None = None,
) -> np.ndarray | dict[str, np.ndarray] | str:
    """Predicts a volume with a trained model, returning an array or writing to a volume.

    Parameters
    ----------
    model_or_checkpoint : torch.nn.Module, or a checkpoint file or run folder
        A checkpoint brings the model, its normalisation, its tasks' activations and affinity offsets, and the
        defaults of `window`, `overlap`, `batch`, `blending` and `precision` (its config's `inference` section;
        the window defaults to the training sample). `which` ('best' or 'last') and `weights` ('auto', 'model',
        'ema') choose the checkpoint of a run folder and its weights.
    image : array-like (Z, Y, X) or (C, Z, Y, X), or a ``PATH[:DATASET]`` string
        Read by region, never whole.
    output : ``PATH[:DATASET]``, optional
        zarr or HDF5: written chunk by chunk (`chunk`, default four windows per axis) and resumable; other
        formats are written whole. Without it the prediction is returned.
    tta : 1, 4, 8 or 16
        Test-time augmentation variants (flips, y-x transpose), affinity channels remapped to their offsets.
    uncertainty : bool
        With `tta`: the variance across variants and the entropy of the mean; returned in a dict (keys 'mean',
        'variance', 'entropy') or written as DATASET_variance and DATASET_entropy.
    dtype : 'float32', 'float16' or 'uint8'
        Of the written prediction; uint8 quantises probabilities to 0..255.

    Other parameters are those of `pytc.inference.predict_array`.

    Returns
    -------
    The prediction (float32 (C, Z, Y, X), or a dict with `uncertainty`), or the output path.
    """
    prepared = Prepared(
        model_or_checkpoint,
        window,
        overlap,
        batch,
        blending,
        activations,
        offsets,
        normalization,
        precision,
        channels_last,
        device,
        which,
        weights,
        crop,
    )
    if dtype not in DTYPES:
        raise ValueError(f"predict: `dtype` must be one of {DTYPES}; got {dtype!r}")
    if dtype == "uint8" and any(name not in ("sigmoid", "softmax") for _, _, name in prepared.activations or ()):
        raise ValueError("predict: dtype 'uint8' stores probabilities; some outputs are not sigmoid or softmax")
    source = Source(_open(image), prepared.normalization)
    predictor = prepared.predictor(tta, uncertainty)
    if output is not None and is_chunked_format(output):
        window, _ = predictor.grid(source.spatial)
        chunk = tuple(chunk) if chunk is not None else default_chunk(window, source.spatial)
        channels = _output_channels(predictor, source)
        predict_volume(
            predictor,
            source,
            str(output),
            chunk,
            channels=channels,
            activations=prepared.activations,
            dtype=dtype,
            progress=progress,
        )
        return str(output)
    result = predictor.predict_region(source, progress=progress)
    if uncertainty and probability_tasks(prepared.activations):
        result["entropy"] = entropy(result["mean"], prepared.activations)
    if output is None:
        return result if uncertainty else result["mean"]
    path, dataset = split_dataset(str(output))
    write_volume(path, quantize(result["mean"], dtype), dataset=dataset)
    return str(output)


def _output_channels(predictor, source):
    """The model's output channels, from one forward pass on a minimal input."""
    minimum = tuple(predictor.model.min_size()) if hasattr(predictor.model, "min_size") else (1,) * 3
    shape = ((1,) + minimum) if predictor.two_d else minimum
    x = torch.zeros((1, source.channels) + tuple(shape), device=predictor.device)
    with torch.inference_mode():
        y = predictor.model.eval()(x[:, :, 0] if predictor.two_d else x)
    return y.shape[1]
