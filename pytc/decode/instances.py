"""Decoders: network outputs (probabilities) to instance segmentations.

- neurons: affinities to watershed fragments and agglomeration (`affinities_to_segmentation`), or the mutex
  watershed with long-range offsets (`pytc.kernels.mutex_watershed`);
- mitochondria and nuclei: foreground plus contour, optionally a distance map, to instances by seeded watershed
  (`binary_contour_to_instances`, PyTorch Connectomics' ``bc_watershed`` / ``bcd_watershed``);
- synapses: polarity channels to pre- and post-synaptic instances (`polarity_to_instances`).

Every decoder takes probabilities: values outside [0, 1] (raw logits) are rejected with an error that says to
apply the activation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..kernels import agglomerate
from ..validation import as_probabilities
from ._basic import connected_components, relabel_sequential, remove_small_segments
from ._seeded import seeded_watershed_kernel


def _quantize(probabilities):
    return (probabilities * 255 + 0.5).astype(np.uint8)


def seeded_watershed(landscape: ArrayLike, markers: ArrayLike, mask: ArrayLike | None = None) -> np.ndarray:
    """Watershed flooding from markers: each unlabelled voxel takes the label of the marker that floods it.

    Parameters
    ----------
    landscape : ndarray (Z, Y, X) or (Y, X), uint8, or float in [0, 1] (quantised to 256 levels)
        Low values flood first.
    markers : ndarray of int, same shape
        Seeds (nonzero ids); 0 = to be flooded. Not modified.
    mask : ndarray of bool, same shape, optional
        Only these voxels are flooded (markers outside it keep their ids).

    Returns
    -------
    ndarray of uint64, same shape.

    Notes
    -----
    Meyer's flooding with a first-in first-out queue per level (numba), O(N); the tests check that it gives
    the results of a plain heap-based flooding, identically.
    """
    fn = "seeded_watershed"
    land = np.asarray(landscape)
    land = land if land.dtype == np.uint8 else _quantize(as_probabilities(land, fn, "landscape"))
    markers = np.asarray(markers)
    if not np.issubdtype(markers.dtype, np.integer):
        raise TypeError(f"{fn}: `markers` must be integer ids; got dtype {markers.dtype}")
    if land.ndim not in (2, 3) or markers.shape != land.shape:
        raise ValueError(
            f"{fn}: `landscape` and `markers` must be 2D or 3D arrays of one shape; got {land.shape} "
            f"and {markers.shape}"
        )
    mask = np.ones(land.shape, bool) if mask is None else np.asarray(mask, bool)
    if mask.shape != land.shape:
        raise ValueError(f"{fn}: `mask` must have the shape of `landscape` {land.shape}; got {mask.shape}")
    if markers.size and markers.min() < 0:
        raise ValueError(f"{fn}: `markers` must be >= 0; got {markers.min()}")
    out = np.ascontiguousarray(markers, np.int64).copy()
    view = (lambda a: a[np.newaxis]) if land.ndim == 2 else (lambda a: a)
    seeded_watershed_kernel(np.ascontiguousarray(view(land)), np.ascontiguousarray(view(mask)), view(out))
    return out.astype(np.uint64)


def binary_contour_to_instances(
    foreground: ArrayLike,
    contour: ArrayLike,
    distance: ArrayLike | None = None,
    *,
    seed_threshold: float = 0.9,
    contour_threshold: float = 0.8,
    foreground_threshold: float = 0.85,
    distance_threshold: float = 0.5,
    min_seed_size: int = 32,
    min_size: int = 128,
) -> np.ndarray:
    """Instances from foreground and contour probabilities (and a distance map), by seeded watershed.

    PyTorch Connectomics' ``bc_watershed`` / ``bcd_watershed``: seeds are the connected components (26-connected,
    at least `min_seed_size` voxels) of ``foreground > seed_threshold & contour < contour_threshold`` (and
    ``distance > distance_threshold``); they flood ``1 - foreground`` within ``foreground >
    foreground_threshold``; instances under `min_size` voxels are removed and ids renumbered 1..N.

    Parameters
    ----------
    foreground, contour : ndarray (Z, Y, X), probabilities (float in [0, 1] or uint8)
    distance : ndarray (Z, Y, X), optional
        A normalised distance map in [0, 1] (e.g. the sigmoid of an instance_edt output).

    Returns
    -------
    ndarray of uint64 instance ids, 0 = background.
    """
    fn = "binary_contour_to_instances"
    foreground = as_probabilities(foreground, fn, "foreground")
    contour = as_probabilities(contour, fn, "contour")
    if contour.shape != foreground.shape:
        raise ValueError(f"{fn}: `contour` must have the shape of `foreground` {foreground.shape}; got {contour.shape}")
    seeds = (foreground > seed_threshold) & (contour < contour_threshold)
    if distance is not None:
        distance = as_probabilities(distance, fn, "distance")
        if distance.shape != foreground.shape:
            raise ValueError(
                f"{fn}: `distance` must have the shape of `foreground` {foreground.shape}; got {distance.shape}"
            )
        seeds &= distance > distance_threshold
    markers = remove_small_segments(connected_components(seeds, connectivity=26), min_seed_size)
    instances = seeded_watershed(_quantize(1 - foreground), markers, foreground > foreground_threshold)
    return relabel_sequential(remove_small_segments(instances, min_size))


def polarity_to_instances(polarity: ArrayLike, threshold: float = 0.5, min_size: int = 0) -> np.ndarray:
    """Synaptic partners from polarity probabilities (channels: pre-synaptic, post-synaptic, synapse).

    Each synapse is a 26-connected component of ``synapse > threshold`` with at least `min_size` voxels; its
    voxels where pre >= post get the odd id 2k - 1, the others the even id 2k (k = 1, 2, ... per synapse), the
    convention of the polarity training target (`pytc.data.targets.polarity_target`).

    Returns
    -------
    ndarray of uint64 ids, same spatial shape, 0 = no synapse.
    """
    fn = "polarity_to_instances"
    polarity = as_probabilities(polarity, fn, "polarity")
    if polarity.ndim not in (3, 4) or polarity.shape[0] != 3:
        raise ValueError(f"{fn}: `polarity` must be (3, [Z,] Y, X): pre, post, synapse; got {polarity.shape}")
    synapses = relabel_sequential(remove_small_segments(connected_components(polarity[2] > threshold, 26), min_size))
    pre = polarity[0] >= polarity[1]
    return np.where(synapses > 0, 2 * synapses - pre.astype(np.uint64), np.uint64(0)).astype(np.uint64)


def affinities_to_segmentation(
    affinities: ArrayLike,
    thresholds: Sequence[float],
    *,
    scoring: str = "quantile-50-histogram",
    fragments: ArrayLike | None = None,
    **options: Any,
) -> list[np.ndarray]:
    """Segmentations from (3+, Z, Y, X) affinity probabilities: watershed fragments (unless given), then
    agglomeration at each threshold (`pytc.kernels.agglomerate`); a list, one per threshold."""
    fn = "affinities_to_segmentation"
    affinities = as_probabilities(affinities, fn, "affinities")
    if affinities.ndim != 4 or affinities.shape[0] < 3:
        raise ValueError(
            f"{fn}: `affinities` must be (C >= 3, Z, Y, X) with the nearest neighbours first; got {affinities.shape}"
        )
    return agglomerate(
        np.ascontiguousarray(affinities[:3]), list(thresholds), scoring=scoring, fragments=fragments, **options
    )
