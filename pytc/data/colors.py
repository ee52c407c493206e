"""Colour mappings for looking at volumes: instances in stable random colours, affinities as RGB.

Training's TensorBoard images use these, and they are the colours of `python -m pytc.view` (Neuroglancer's): every
id keeps its colour from image to image, run to run, and between TensorBoard and the viewer.
"""

import numpy as np


def _mix(state, value):
    """One step of the 32-bit murmur-style hash combine that Neuroglancer colours segments with."""
    value = value * np.uint32(0xCC9E2D51)
    value = (value << np.uint32(15)) | (value >> np.uint32(17))
    state = state ^ (value * np.uint32(0x1B873593))
    state = (state << np.uint32(13)) | (state >> np.uint32(19))
    return state * np.uint32(5) + np.uint32(0xE6546B64)


def label_colors(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """(..., 3) uint8 RGB: each nonzero id its own colour, 0 black.

    The colour is the one Neuroglancer gives the id (colour seed `seed`, its default 0): a hue and a saturation
    in [0.5, 1] from a hash of the id's two 32-bit halves, at full value. So `python -m pytc.view` and the
    TensorBoard images of training show each segment in the same colour, from image to image and run to run.

    Examples
    --------
    >>> label_colors(np.array([0, 7, 7]))
    array([[  0,   0,   0],
           [ 12, 255, 149],
           [ 12, 255, 149]], dtype=uint8)
    """
    labels = np.asarray(labels)
    ids = labels.astype(np.uint64)
    with np.errstate(over="ignore"):
        low = (ids & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        high = (ids >> np.uint64(32)).astype(np.uint32)
        h = _mix(_mix(np.full(ids.shape, seed, np.uint32), low), high)
    hue = (h & np.uint32(0xFF)).astype(np.float64) / 255 * 6
    saturation = 0.5 + 0.5 * ((h >> np.uint32(8)) & np.uint32(0xFF)).astype(np.float64) / 255
    sector = np.floor(hue)
    f = hue - sector
    p, q, t = 1 - saturation, 1 - saturation * f, 1 - saturation * (1 - f)
    one = np.ones_like(p)
    # HSV to RGB by hue sector (value 1): the channels of sectors 0..5
    table = [(one, t, p), (q, one, p), (p, one, t), (p, q, one), (t, p, one), (one, p, q)]
    sector = sector.astype(np.int64) % 6
    rgb = np.zeros(ids.shape + (3,))
    for k, channels in enumerate(table):
        chosen = sector == k
        for c in range(3):
            rgb[..., c][chosen] = channels[c][chosen]
    rgb = np.floor(rgb * 255 + 0.5).astype(np.uint8)
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
