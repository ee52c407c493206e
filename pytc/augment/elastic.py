"""Elastic deformation (PyTorch Connectomics' Elastic), with the field fused into the resampling."""

import math
from collections.abc import Sequence

import numpy as np

from ..validation import check_number
from ._elastic import coarse_field, elastic_2d, elastic_3d, std_ratio_1d
from ._warp import cast_like
from .base import AUGMENTATIONS, IMAGE, Augmentation, Sample, label_keys, per_channel


@AUGMENTATIONS.register()
class Elastic(Augmentation):
    """Random elastic deformation: a displacement field of white noise smoothed by a gaussian of std
    `sigma` voxels and scaled by `alpha` (as PyTorch Connectomics' Elastic).

    Parameters
    ----------
    p : float
        Probability of applying it.
    alpha : float
        Scale of the displacement (voxels); displacements are clipped to [-alpha, alpha].
    sigma : float
        Smoothness of the field (std of the gaussian, voxels).
    mode : {'2d', '3d'}
        '2d' (PyTorch Connectomics): one (dy, dx) field in the y-x plane, shared by all z sections (for
        anisotropic EM); '3d': a full (dz, dy, dx) field (isotropic data).
    order : {1}
        Image interpolation (1: bi/trilinear). Label-like arrays always use nearest neighbour.

    Notes
    -----
    The field is generated on a coarse control grid (spacing ~sigma) and evaluated as a cubic B-spline
    inside the resampling loop; its std matches PyTorch Connectomics'
    ``alpha * gaussian_filter(uniform(-1, 1), sigma)``. Kernels are numba-compiled once and cached on
    disk: the first call in a fresh process costs ~the time to load the cache (see the README note).

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.augment import Compose, Elastic
    >>> aug = Compose([Elastic(p=1.0)], output_shape=(8, 32, 32))
    >>> aug.input_shape()
    (8, 44, 44)
    >>> sample = {"image": np.random.rand(8, 44, 44).astype(np.float32), "label": np.ones((8, 44, 44), np.uint32)}
    >>> aug(sample, np.random.default_rng(0))["image"].shape
    (8, 32, 32)
    """

    def __init__(self, p: float = 0.75, alpha: float = 16.0, sigma: float = 4.0, mode: str = "2d", order: int = 1):
        super().__init__(p)
        self.alpha = float(check_number(alpha, "Elastic", "alpha", low=0))
        self.sigma = float(check_number(sigma, "Elastic", "sigma", low=0))
        if mode not in ("2d", "3d"):
            raise ValueError(f"Elastic: `mode` must be '2d' or '3d'; got {mode!r}")
        self.mode = mode
        if isinstance(order, bool) or order not in (1,):
            raise ValueError(f"Elastic: `order` must be 1 (order 3 is not implemented); got {order!r}")
        self.order = int(order)

    def max_displacement(self) -> float:
        """The largest displacement the field can have (voxels): the coarse noise is in [-1, 1], the
        gaussian and the B-spline weights are positive and sum to 1, so |d| <= the coefficients' scale."""
        ndim = 3 if self.mode == "3d" else 2
        return min(self.alpha, self.alpha * std_ratio_1d(self.sigma, max(self.sigma, 1.0)) ** ndim)

    def margin(self) -> int:
        """Voxels added on each side (y and x; z too in mode '3d'): max displacement + 1 for interpolation."""
        return math.ceil(self.max_displacement()) + 1

    def input_shape(self, output_shape: Sequence[int]) -> tuple[int, ...]:
        z, y, x = output_shape
        m = 2 * self.margin()
        return (z + m if self.mode == "3d" else z, y + m, x + m)

    def apply(self, sample: Sample, rng: np.random.Generator) -> Sample:
        shape = sample[IMAGE].shape[-3:]
        ndim = 3 if self.mode == "3d" else 2
        coef, spacing = coarse_field(shape, ndim, self.sigma, self.alpha, rng)
        kernel = elastic_3d if ndim == 3 else elastic_2d

        def warp(a, order):
            if order == 0:
                src = np.ascontiguousarray(a)
                src = src.view(np.uint8) if src.dtype == bool else src
            else:
                src = np.ascontiguousarray(a, dtype=np.float32)
            out = np.empty(src.shape, src.dtype)
            kernel(src, out, coef, spacing, self.alpha, order)
            if order == 0:
                return out.view(bool) if a.dtype == bool else out
            return cast_like(out, a.dtype)

        for key in label_keys(sample):
            sample[key] = warp(sample[key], 0)
        sample[IMAGE] = per_channel(sample[IMAGE], lambda a: warp(a, self.order))
        return sample
