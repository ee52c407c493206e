"""Sliding-window geometry: window positions over a volume and the weights that blend overlapping windows."""

import itertools
from collections.abc import Sequence

import numpy as np

from ..geometry import grid_starts

BLENDINGS = ("gaussian", "bump", "constant")


def window_starts(size: int, window: int, overlap: float) -> list[int]:
    """Start positions along one axis: stride ``window * (1 - overlap)`` (at least 1), the last window
    pushed back inside so it ends at `size` (`pytc.geometry.grid_starts`, the grid of test-mode
    `VolumeDataset` windows too). A window larger than the axis starts at 0 only."""
    if window >= size:
        return [0]
    return grid_starts(size, window, max(1, int(window * (1 - overlap))))


def sliding_windows(shape: Sequence[int], window: Sequence[int], overlap: float) -> list[tuple[int, ...]]:
    """Every window start (z, y, x) over a volume of `shape`, in C order."""
    return list(itertools.product(*(window_starts(n, w, overlap) for n, w in zip(shape, window))))


def blend_weights(window: Sequence[int], blending: str = "gaussian", sigma: float = 0.125) -> np.ndarray:
    """Per-voxel weight of a window's prediction when overlapping windows are averaged.

    'gaussian': a Gaussian centred on the window with standard deviation `sigma` times the window size
    per axis (MONAI's and nnU-Net's choice), so voxels near a window's border, where the network sees
    less context, count less. 'bump': the smooth bump ``exp(1 - 1 / (1 - t^2))`` of the position t in (-1, 1)
    across each axis (PyTorch Connectomics' choice), flat in the middle and falling to 0 at the borders.
    The minimum of both is raised to 1e-3 of the peak so every voxel keeps a weight. 'constant': a plain
    average.
    """
    if blending not in BLENDINGS:
        raise ValueError(f"blend_weights: `blending` must be one of {BLENDINGS}; got {blending!r}")
    if blending == "constant":
        return np.ones(window, np.float32)
    weight = np.ones((), np.float64)
    for n in window:
        if blending == "gaussian":
            x = np.arange(n) - (n - 1) / 2
            g = np.exp(-0.5 * (x / (sigma * n)) ** 2)
        else:
            t = (2 * np.arange(n) + 1) / n - 1  # voxel centres in (-1, 1)
            g = np.exp(1 - 1 / (1 - t**2))
        weight = np.multiply.outer(weight, g)
    weight /= weight.max()
    return np.maximum(weight, 1e-3).astype(np.float32)
