"""Sliding-window prediction of a volume with a fully convolutional model, windows blended by weight."""

import numpy as np
import torch

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


def _as_4d(image):
    """(C, Z, Y, X) view of an array-like volume (Z, Y, X) or (C, Z, Y, X), read lazily by region."""
    shape = tuple(image.shape)
    if len(shape) == 3:
        return _Channel(image), (1,) + shape
    if len(shape) == 4:
        return image, shape
    raise ValueError(f"predict: `image` must be (Z, Y, X) or (C, Z, Y, X); got shape {shape}")


class _Channel:
    """A (Z, Y, X) array-like seen as (1, Z, Y, X)."""

    def __init__(self, volume):
        self.volume = volume

    def __getitem__(self, key):
        return np.asarray(self.volume[key[1:]])[np.newaxis]


@torch.inference_mode()
def predict(model, image, window, *, overlap=0.5, batch=1, blending="gaussian", activations=None, device=None,
            precision="fp32", channels_last=False, progress=None):  # fmt: skip
    """Predicts a whole volume window by window and blends overlapping windows.

    Parameters
    ----------
    model : torch.nn.Module
        Fully convolutional: any input of at least ``model.min_size()`` gives an output of the same size.
        3D models see (N, C, Z, Y, X) windows; 2D models (``model.ndim == 2``) see the sections of
        windows one voxel deep.
    image : array-like, (Z, Y, X) or (C, Z, Y, X), already normalised
        Read by region (an h5py dataset or zarr array is never loaded whole).
    window : 3 ints
        Window size; clipped to the volume where the volume is smaller.
    overlap : float in [0, 1)
        Fraction of a window shared with its neighbour; the last window of each axis is pushed back inside.
    batch : int
        Windows per forward pass.
    blending : 'gaussian' or 'constant'
        See `pytc.inference.window.blend_weights`.
    activations : list of (start, stop, name) or callable, optional
        Applied to each window's output before blending, e.g. ``[(0, 3, "sigmoid")]``.
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
    ndarray, float32, (C_out, Z, Y, X)
    """
    source, shape = _as_4d(image)
    spatial = shape[1:]
    window = tuple(min(int(w), n) for w, n in zip(window, spatial))
    two_d = getattr(model, "ndim", 3) == 2
    if two_d:
        window = (1,) + window[1:]
    minimum = tuple(model.min_size()) if hasattr(model, "min_size") else ()
    minimum = ((1,) + minimum) if two_d else minimum
    if any(w < m for w, m in zip(window, minimum)):
        raise ValueError(f"predict: the window {window} (clipped to the volume {spatial}) is smaller than the "
                         f"model's minimum input {minimum}")  # fmt: skip
    if not 0 <= overlap < 1:
        raise ValueError(f"predict: `overlap` must be in [0, 1); got {overlap}")
    device = device or next(model.parameters()).device
    autocast = AUTOCAST.get(precision) if torch.device(device).type == "cuda" else None
    weight = blend_weights(window, blending)
    starts = sliding_windows(spatial, window, overlap)
    out = weights = None
    was_training = model.training
    model.eval()
    try:
        for first in range(0, len(starts), batch):
            group = starts[first:first + batch]
            regions = [tuple(slice(s, s + w) for s, w in zip(start, window)) for start in group]
            x = torch.from_numpy(np.stack([np.asarray(source[(slice(None),) + r], np.float32) for r in regions]))
            if two_d:
                x = x[:, :, 0]
            x = x.to(device)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last if two_d else torch.channels_last_3d)
            with torch.autocast(torch.device(device).type, dtype=autocast, enabled=autocast is not None):
                y = model(x)
            y = _activate(y.float(), activations)
            if two_d:
                y = y[:, :, None]
            y = y.cpu().numpy()
            if out is None:
                out = np.zeros((y.shape[1],) + spatial, np.float32)
                weights = np.zeros(spatial, np.float32)
            for region, block in zip(regions, y):
                out[(slice(None),) + region] += block * weight
                weights[region] += weight
            if progress is not None:
                progress(min(first + batch, len(starts)), len(starts))
    finally:
        model.train(was_training)
    out /= weights
    return out
