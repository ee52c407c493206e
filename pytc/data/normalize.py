"""Image normalisation: how a volume's intensities become the network's float32 input.

One affine map ``(x - offset) / divisor`` per volume, fitted once from the volume (or a subsample of a large one),
so training and inference of the same volume see the same values.
"""

from typing import Any

import numpy as np

MODES = ("max", "meanstd", "percentile", "none")
_SAMPLE_VOXELS = 1 << 24  # statistics read from at most this many voxels (whole sections, evenly spaced)


def _subsample(volume):
    """Evenly spaced whole sections of `volume`, at most about _SAMPLE_VOXELS voxels."""
    per_section = int(np.prod(volume.shape[1:])) or 1
    step = max(1, int(np.ceil(volume.shape[0] * per_section / _SAMPLE_VOXELS)))
    return np.asarray(volume[::step], dtype=np.float64)


class Normalization:
    """Maps intensities to the network's input range.

    Parameters
    ----------
    mode : {'max', 'meanstd', 'percentile', 'none'}
        max: divide integer images by their dtype's maximum (uint8 by 255); floats are unchanged.
        meanstd: ``(x - mean) / std``, with each volume's own statistics where `mean` or `std` is None.
        percentile: map each volume's `low` and `high` percentiles to 0 and 1 (values outside are kept).
        none: cast to float32 only.
    mean, std : float, optional
    low, high : float, percentiles in [0, 100]

    Examples
    --------
    >>> norm = Normalization("max")
    >>> norm.apply(np.array([0, 255], np.uint8), norm.fit(np.zeros(1, np.uint8)))
    array([0., 1.], dtype=float32)
    """

    def __init__(
        self,
        mode: str = "max",
        mean: float | None = None,
        std: float | None = None,
        low: float = 1.0,
        high: float = 99.0,
    ):
        if mode not in MODES:
            raise ValueError(f"Normalization: `mode` must be one of {MODES}; got {mode!r}")
        if std is not None and not std > 0:
            raise ValueError(f"Normalization: `std` must be > 0; got {std!r}")
        if not 0 <= low < high <= 100:
            raise ValueError(f"Normalization: `low` and `high` must satisfy 0 <= low < high <= 100; got {low}, {high}")
        self.mode, self.mean, self.std, self.low, self.high = mode, mean, std, float(low), float(high)

    @classmethod
    def from_spec(cls, spec: "str | dict | Normalization") -> "Normalization":
        """From a mode name, a dict of the constructor's arguments, or a Normalization."""
        if isinstance(spec, cls):
            return spec
        return cls(spec) if isinstance(spec, str) else cls(**dict(spec))

    def fit(self, volume: Any) -> tuple[float, float]:
        """(offset, divisor) for this volume: its float32 input is ``(x - offset) / divisor``."""
        dtype = np.dtype(volume.dtype)
        if self.mode == "none" or (self.mode == "max" and dtype.kind in "fb"):
            return 0.0, 1.0
        if self.mode == "max":
            return 0.0, float(np.iinfo(dtype).max)
        if self.mode == "meanstd":
            sample = _subsample(volume) if self.mean is None or self.std is None else None
            mean = float(sample.mean()) if self.mean is None else float(self.mean)
            std = float(sample.std()) if self.std is None else float(self.std)
            return mean, std if std > 0 else 1.0
        lo, hi = np.percentile(_subsample(volume), [self.low, self.high])
        return float(lo), float(hi - lo) if hi > lo else 1.0

    @staticmethod
    def apply(data: Any, offset_divisor: tuple[float, float]) -> np.ndarray:
        """`data` as float32 after the fitted map (a new array)."""
        offset, divisor = offset_divisor
        out = np.array(data, dtype=np.float32)
        if offset != 0.0:
            out -= np.float32(offset)
        if divisor != 1.0:
            out /= np.float32(divisor)
        return out

    def __repr__(self):
        return f"Normalization(mode={self.mode!r}, mean={self.mean}, std={self.std}, low={self.low}, high={self.high})"
