"""Colour mappings for looking at volumes: instances in stable random colours, affinities as RGB.

Training's TensorBoard images use these; every id keeps its colour from image to image and run to run.
"""

import numpy as np

_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _hash(ids):
    """splitmix64 finaliser of each id: well-mixed 64 bits."""
    x = np.asarray(ids).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * _MIX[0]
    x = (x ^ (x >> np.uint64(27))) * _MIX[1]
    return x ^ (x >> np.uint64(31))


def label_colors(labels: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB: each nonzero id its own colour (the same for that id everywhere), 0 black.

    Colours are bright enough to tell from the black background (each channel in [48, 255]).

    Examples
    --------
    >>> label_colors(np.array([0, 7, 7]))[:, 0]
    array([  0, 222, 222], dtype=uint8)
    """
    labels = np.asarray(labels)
    h = _hash(labels)
    rgb = np.stack([(h >> np.uint64(s)) & np.uint64(0xFF) for s in (0, 8, 16)], -1).astype(np.uint16)
    rgb = (48 + rgb * 207 // 255).astype(np.uint8)
    rgb[labels == 0] = 0
    return rgb


def affinity_rgb(affinities: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB of the first three channels of (C, ...) affinities in [0, 1]: z red, y green,
    x blue, so a boundary shows dark and a boundary along one axis shows in the other two colours."""
    a = np.asarray(affinities, dtype=np.float32)
    a = np.concatenate([a[:3], np.zeros((max(0, 3 - len(a)),) + a.shape[1:], np.float32)])
    return (np.clip(np.moveaxis(a, 0, -1), 0, 1) * 255 + 0.5).astype(np.uint8)


def gray_rgb(image: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """(..., 3) uint8 grey RGB of an image, mapping [low, high] (default: its min and max) to [0, 255]."""
    image = np.asarray(image, dtype=np.float32)
    low = float(image.min()) if low is None else low
    high = float(image.max()) if high is None else high
    scaled = np.clip((image - low) / (high - low if high > low else 1.0), 0, 1)
    return np.repeat((scaled * 255 + 0.5).astype(np.uint8)[..., None], 3, -1)
