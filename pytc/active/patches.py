"""Candidate patches of a pool volume and their aggregated uncertainty scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..geometry import grid
from ..validation import as_shape, check_choice, check_number, fail

AGGREGATES = ("mean", "max", "top10")


def grid_patches(shape: Sequence[int], patch: Sequence[int], stride: Sequence[int] | None = None) -> np.ndarray:
    """(N, 3) int64 starts of `patch`-sized candidates on a grid over a volume of `shape` (stride: the patch,
    so candidates tile the volume; the last of each axis pushed back inside)."""
    shape = as_shape(shape, "grid_patches", "shape")
    patch = as_shape(patch, "grid_patches", "patch")
    if any(p > n for p, n in zip(patch, shape)):
        raise fail("grid_patches", "patch", f"at most the volume's shape {shape}", patch)
    stride = patch if stride is None else as_shape(stride, "grid_patches", "stride")
    return np.array(grid(shape, patch, stride), np.int64).reshape(-1, 3)


def region_patches(score_map: np.ndarray, patch: Sequence[int], quantile: float = 0.95) -> np.ndarray:
    """(N, 3) starts of candidates centred on connected regions of high uncertainty: the 26-connected
    components of voxels above the `quantile` of `score_map`, one patch at each component's centre of mass
    (moved inside the volume), the largest components first; duplicates removed."""
    import cc3d

    score_map = np.asarray(score_map)
    patch = np.array(as_shape(patch, "region_patches", "patch"))
    check_number(quantile, "region_patches", "quantile", 0.0, 1.0)
    shape = np.array(score_map.shape)
    if (patch > shape).any():
        raise fail("region_patches", "patch", f"at most the volume's shape {tuple(shape)}", tuple(patch))
    high = score_map > np.quantile(score_map, quantile)
    if not high.any():
        return np.zeros((0, 3), np.int64)
    components = cc3d.connected_components(high, connectivity=26)
    stats = cc3d.statistics(components)
    order = np.argsort(-stats["voxel_counts"][1:], kind="stable") + 1
    centres = np.asarray(stats["centroids"])[order]
    starts = np.clip(np.round(centres - patch / 2).astype(np.int64), 0, shape - patch)
    _, first = np.unique(starts, axis=0, return_index=True)
    return starts[np.sort(first)]


def patch_scores(
    score_map: np.ndarray, starts: np.ndarray, patch: Sequence[int], aggregate: str = "mean"
) -> np.ndarray:
    """(N,) float64 score of each candidate: the mean of `score_map` over it (a summed-volume table, one pass
    over the volume), or its max, or the mean of its top 10% of voxels."""
    check_choice(aggregate, "patch_scores", "aggregate", AGGREGATES)
    score_map = np.asarray(score_map, np.float64)
    starts = np.asarray(starts, np.int64).reshape(-1, 3)
    patch = as_shape(patch, "patch_scores", "patch")
    if aggregate == "mean":
        table = np.zeros(tuple(n + 1 for n in score_map.shape))
        table[1:, 1:, 1:] = score_map.cumsum(0).cumsum(1).cumsum(2)
        z0, y0, x0 = starts.T
        z1, y1, x1 = (starts + np.array(patch)).T
        total = (
            table[z1, y1, x1]
            - table[z0, y1, x1]
            - table[z1, y0, x1]
            - table[z1, y1, x0]
            + table[z0, y0, x1]
            + table[z0, y1, x0]
            + table[z1, y0, x0]
            - table[z0, y0, x0]
        )
        return total / np.prod(patch)
    out = np.empty(len(starts))
    for i, start in enumerate(starts):
        values = score_map[tuple(slice(s, s + p) for s, p in zip(start, patch))]
        if aggregate == "max":
            out[i] = values.max()
        else:
            flat = values.ravel()
            k = max(1, flat.size // 10)
            out[i] = np.partition(flat, flat.size - k)[-k:].mean()
    return out


def patch_scores_reference(score_map, starts, patch, aggregate="mean"):
    """`patch_scores` by slicing each candidate: the reference the tests compare with."""
    out = []
    for start in np.asarray(starts).reshape(-1, 3):
        values = np.asarray(score_map, np.float64)[tuple(slice(s, s + p) for s, p in zip(start, patch))]
        if aggregate == "mean":
            out.append(values.mean())
        elif aggregate == "max":
            out.append(values.max())
        else:
            flat = np.sort(values.ravel())
            out.append(flat[-max(1, flat.size // 10) :].mean())
    return np.array(out)


def overlaps(a: np.ndarray, b: np.ndarray, patch: Sequence[int]) -> np.ndarray:
    """(len(a), len(b)) bool: whether patches starting at `a` and at `b` share a voxel."""
    a = np.asarray(a).reshape(-1, 1, 3)
    b = np.asarray(b).reshape(1, -1, 3)
    return (np.abs(a - b) < np.array(patch)).all(-1)
