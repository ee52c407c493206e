"""Sliding-window prediction with a fully convolutional model: windows on one global grid, test-time
augmentation, blending by weight, and any region of the volume predicted on its own (for chunked output).

Every voxel's value is the weighted mean of the windows of the global grid that contain it, summed in grid
order, so a region predicted alone equals the same region of the whole-volume prediction.
"""

import numpy as np
import torch

from .tta import transforms
from .uncertainty import entropy, probability_tasks
from .window import blend_weights, sliding_windows

ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "softmax": lambda x: torch.softmax(x, 1),
    "tanh": torch.tanh,
    "none": lambda x: x,
}
AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _activate(output, activations):
    """`output` with each (start, stop, name) range of `activations` activated (a callable is applied whole)."""
    if activations is None:
        return output
    if callable(activations):
        return activations(output)
    out = output.clone()
    for start, stop, name in activations:
        out[:, start:stop] = ACTIVATIONS[name](output[:, start:stop])
    return out


def _overlap(start, window, bounds):
    """The part of the window at `start` inside the region `bounds`: (slices in the window, in the region)."""
    inside, target = [], []
    for s, w, (b0, b1) in zip(start, window, bounds):
        lo, hi = max(b0, s), min(b1, s + w)
        inside.append(slice(lo - s, hi - s))
        target.append(slice(lo - b0, hi - b0))
    return tuple(inside), tuple(target)


class Source:
    """A (Z, Y, X) or (C, Z, Y, X) array-like read by region as normalised float32 (C, z, y, x)."""

    def __init__(self, image, normalization=None):
        self.image = image
        shape = tuple(image.shape)
        if len(shape) not in (3, 4):
            raise ValueError(f"predict: `image` must be (Z, Y, X) or (C, Z, Y, X); got shape {shape}")
        self.channels, self.spatial = (1, shape) if len(shape) == 3 else (shape[0], shape[1:])
        self.normalization = normalization
        self.map = normalization.fit(image) if normalization is not None else None

    def read(self, region):
        key = region if len(self.image.shape) == 3 else (slice(None),) + region
        data = np.asarray(self.image[key])
        if self.map is not None:
            data = self.normalization.apply(data, self.map)
        data = data.astype(np.float32, copy=False)
        return data[np.newaxis] if data.ndim == 3 else data


class WindowPredictor:
    """Predicts regions of a volume from the windows of one global grid.

    Parameters are those of `predict`; `offsets[c]` is the affinity offset of output channel c (None for
    other channels), needed to invert test-time augmentation on affinities.
    """

    def __init__(
        self,
        model,
        window,
        *,
        overlap=0.5,
        batch=1,
        blending="gaussian",
        activations=None,
        offsets=None,
        tta=1,
        uncertainty=False,
        crop=0,
        device=None,
        precision="fp32",
        channels_last=False,
    ):
        if not 0 <= overlap < 1:
            raise ValueError(f"predict: `overlap` must be in [0, 1); got {overlap}")
        if uncertainty and tta < 2:
            raise ValueError("predict: `uncertainty` needs test-time augmentation: set `tta` to 4, 8 or 16")
        self.model, self.overlap, self.batch = model, overlap, int(batch)
        self.two_d = getattr(model, "ndim", 3) == 2
        self.window = (1,) + tuple(window)[-2:] if self.two_d else tuple(int(w) for w in window)
        self.blending, self.activations, self.offsets = blending, activations, offsets
        self.transforms = transforms(tta, self.two_d)
        self.uncertainty = uncertainty
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.autocast = AUTOCAST.get(precision) if self.device.type == "cuda" else None
        self.channels_last = channels_last
        self.crop = (int(crop),) * 3 if np.isscalar(crop) else tuple(int(c) for c in crop)
        if len(self.crop) != 3 or min(self.crop) < 0:
            raise ValueError(f"predict: `crop` must be a voxel count >= 0 or 3 of them; got {crop!r}")

    def grid(self, spatial):
        """(window, starts): the window clipped to the volume, and every window start, in grid order."""
        window = tuple(min(w, n) for w, n in zip(self.window, spatial))
        for c, w, n in zip(self.crop, window, spatial):
            shared = w - max(1, int(w * (1 - self.overlap)))  # voxels neighbouring windows share
            if w < n and 2 * c > shared:
                raise ValueError(
                    f"predict: `crop` {self.crop} needs windows that share at least twice as many voxels; "
                    f"windows of {w} with overlap {self.overlap} share {shared}"
                )
        minimum = tuple(self.model.min_size()) if hasattr(self.model, "min_size") else ()
        minimum = ((1,) + minimum) if self.two_d else minimum
        if any(w < m for w, m in zip(window, minimum)):
            raise ValueError(
                f"predict: the window {window} (clipped to the volume {tuple(spatial)}) is smaller than "
                f"the model's minimum input {minimum}"
            )
        return window, sliding_windows(spatial, window, self.overlap)

    def _cropped(self, weight, start, window, spatial):
        """The window's blending weight without `crop` voxels at each face, except faces on the volume's
        border (no other window covers those voxels): the border the network cannot see well."""
        if not any(self.crop):
            return weight
        weight = weight.copy()
        for axis, (s, w, n, c) in enumerate(zip(start, window, spatial, self.crop)):
            index = [slice(None)] * 3
            if c and s > 0:
                index[axis] = slice(0, c)
                weight[tuple(index)] = 0
            if c and s + w < n:
                index[axis] = slice(w - c, w)
                weight[tuple(index)] = 0
        return weight

    def _forward(self, x):
        """Mean and variance over the test-time transforms of the activated outputs of a window batch."""
        total = total_sq = None
        for transform in self.transforms:
            t = transform.apply(x)
            if self.two_d:
                t = t[:, :, 0]
            if self.channels_last:
                t = t.contiguous(memory_format=torch.channels_last if self.two_d else torch.channels_last_3d)
            with torch.autocast(self.device.type, dtype=self.autocast, enabled=self.autocast is not None):
                y = self.model(t)
            y = _activate(y.float(), self.activations)
            if self.two_d:
                y = y[:, :, None]
            y = transform.invert(y, self.offsets)
            total = y if total is None else total + y
            if self.uncertainty:
                total_sq = y * y if total_sq is None else total_sq + y * y
        mean = total / len(self.transforms)
        variance = (total_sq / len(self.transforms) - mean * mean).clamp_(min=0) if self.uncertainty else None
        return mean, variance

    @torch.inference_mode()
    def predict_region(self, source, region=None, progress=None):
        """{'mean': (C, *region shape)[, 'variance': ...]} for `region` (a tuple of slices, default the whole
        volume), from every window of the global grid that overlaps it."""
        spatial = source.spatial
        region = region or tuple(slice(0, n) for n in spatial)
        bounds = [(r.start, r.stop) for r in region]
        window, starts = self.grid(spatial)
        starts = [s for s in starts if all(a < b1 and a + w > b0 for a, w, (b0, b1) in zip(s, window, bounds))]
        weight = blend_weights(window, self.blending)
        shape = tuple(b1 - b0 for b0, b1 in bounds)
        out = variance = weights = None
        was_training = self.model.training
        self.model.eval()
        try:
            for first in range(0, len(starts), self.batch):
                group = starts[first : first + self.batch]
                windows = [tuple(slice(s, s + w) for s, w in zip(start, window)) for start in group]
                x = torch.from_numpy(np.stack([source.read(w) for w in windows])).to(self.device)
                mean, var = self._forward(x)
                mean = mean.cpu().numpy()
                var = var.cpu().numpy() if var is not None else None
                if out is None:
                    out = np.zeros((mean.shape[1],) + shape, np.float32)
                    weights = np.zeros(shape, np.float32)
                    variance = np.zeros_like(out) if var is not None else None
                for k, start in enumerate(group):
                    inside, target = _overlap(start, window, bounds)
                    w = self._cropped(weight, start, window, spatial)[inside]
                    out[(slice(None),) + target] += mean[k][(slice(None),) + inside] * w
                    if variance is not None:
                        variance[(slice(None),) + target] += var[k][(slice(None),) + inside] * w
                    weights[target] += w
                if progress is not None:
                    progress(min(first + self.batch, len(starts)), len(starts))
        finally:
            self.model.train(was_training)
        out /= weights
        result = {"mean": out}
        if variance is not None:
            result["variance"] = variance / weights
        return result


def predict_array(
    model,
    image,
    window,
    *,
    overlap=0.5,
    batch=1,
    blending="gaussian",
    activations=None,
    offsets=None,
    tta=1,
    uncertainty=False,
    crop=0,
    normalization=None,
    device=None,
    precision="fp32",
    channels_last=False,
    progress=None,
):
    """Predicts a whole volume window by window and blends overlapping windows.

    Parameters
    ----------
    model : torch.nn.Module
        Fully convolutional: any input of at least ``model.min_size()`` gives an output of the same size.
        3D models see (N, C, Z, Y, X) windows; 2D models (``model.ndim == 2``) see the sections of
        windows one voxel deep.
    image : array-like, (Z, Y, X) or (C, Z, Y, X)
        Read by region (an h5py dataset or zarr array is never loaded whole), normalised by `normalization`
        (a `pytc.data.Normalization`) or used as it is.
    window : 3 ints
        Window size; clipped to the volume where the volume is smaller.
    overlap : float in [0, 1)
        Fraction of a window shared with its neighbour; the last window of each axis is pushed back inside.
    batch : int
        Windows per forward pass.
    blending : 'gaussian', 'bump' or 'constant'
        See `pytc.inference.window.blend_weights`.
    activations : list of (start, stop, name) or callable, optional
        Applied to each window's output before blending, e.g. ``[(0, 3, "sigmoid")]``.
    offsets : list, optional
        Per output channel, its affinity offset or None; test-time augmentation remaps affinity channels.
    tta : 1, 4, 8 or 16
        Test-time variants (see `pytc.inference.tta.transforms`), each inverted and averaged.
    uncertainty : bool
        Also return the variance across variants and the entropy of the mean (needs tta >= 4).
    crop : int or 3 ints
        Voxels at each face of a window that get no weight, except on the volume's border: the border where a
        padded convolutional network sees less than its receptive field. With `crop` at least the receptive
        field's radius (and windows sharing twice as much), the blend equals the whole-volume prediction.
    device : torch.device, optional
        Default: the model's.
    precision : 'fp32', 'bf16' or 'fp16'
        Mixed precision for the forward passes on CUDA (the CPU always runs fp32).
    channels_last : bool
        Feed windows in the channels-last memory format (faster convolutions on CPUs).
    progress : callable, optional
        Called as ``progress(done, total)`` after each batch of windows.

    Returns
    -------
    ndarray, float32, (C_out, Z, Y, X); with `uncertainty` a dict of 'mean', 'variance' (C_out, Z, Y, X) and
    'entropy' (one channel per task with probabilities, see `pytc.inference.uncertainty.entropy`; absent when
    no task has sigmoid or softmax outputs).
    """
    predictor = WindowPredictor(
        model,
        window,
        overlap=overlap,
        batch=batch,
        blending=blending,
        activations=activations,
        offsets=offsets,
        tta=tta,
        uncertainty=uncertainty,
        crop=crop,
        device=device,
        precision=precision,
        channels_last=channels_last,
    )
    result = predictor.predict_region(Source(image, normalization), progress=progress)
    if not uncertainty:
        return result["mean"]
    if probability_tasks(activations):
        result["entropy"] = entropy(result["mean"], activations)
    return result
