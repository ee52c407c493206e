"""Reference for agglomerate: a dict region graph and a repeated minimum search (small volumes only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .._agglomerate_scoring import parse_scoring

_NEAREST = ((1, 0, 0), (0, 1, 0), (0, 0, 1))
_BINS = 256


def _bin(value):
    """waterz's discretize(value, 256)."""
    value = np.float32(value)
    if not value > 0:
        return 0
    if value >= 1:
        return _BINS - 1
    return min(int(value * np.float32(_BINS)), _BINS - 1)


def _initial(kind, values, init_with_max):
    """Statistic of one edge of the initial region graph from its boundary affinities."""
    if kind == "mean":
        return (sum(float(v) for v in values), len(values))
    if kind == "max":
        return max(values)
    if kind == "min":
        return min(values)
    if init_with_max:
        values = [max(values)]
    if kind == "quantile":
        return sorted(values)
    counts = {}
    for v in values:
        counts[_bin(v)] = counts.get(_bin(v), 0) + 1
    return counts


def _merge(kind, a, b):
    if kind == "mean":
        return (a[0] + b[0], a[1] + b[1])
    if kind == "max":
        return max(a, b)
    if kind == "min":
        return min(a, b)
    if kind == "quantile":
        return sorted(a + b)
    counts = dict(a)
    for k, n in b.items():
        counts[k] = counts.get(k, 0) + n
    return counts


def _value(kind, q, stat):
    if kind == "mean":
        return np.float32(stat[0] / stat[1])
    if kind in ("max", "min"):
        return np.float32(stat)
    if kind == "quantile":
        pivot = min(q * len(stat) // 100, len(stat) - 1)
        return np.float32(stat[pivot])
    pivot = min(q * sum(stat.values()) // 100 + 1, sum(stat.values()))  # q = 100: the maximum's bin
    cumulative = 0
    for b in sorted(stat):
        cumulative += stat[b]
        if cumulative >= pivot:
            return np.float32((b + 0.5) / _BINS)
    raise AssertionError("empty histogram")


def _score(kind, q, stat):
    return np.float32(1.0 - float(_value(kind, q, stat)))


class TieError(ValueError):
    """Raised by `agglomerate_ref(..., strict=True)` when two edges share the lowest score."""


def agglomerate_ref(
    affinities: ArrayLike,
    thresholds: Sequence[float],
    *,
    fragments: ArrayLike,
    scoring: str = "mean",
    init_with_max: bool = True,
    strict: bool = False,
) -> list[np.ndarray]:
    """Segmentations by hierarchical agglomeration; see `pytc.kernels.agglomerate`.

    The region graph is a dict {(region a, region b): statistic} of the boundary affinities
    between touching nonzero fragments. For each threshold (ascending), the edge of lowest score
    ``1 - statistic`` is found by a full search and its regions merged (their edges to a common
    neighbour combine their statistics), while that score is below the threshold. Regions are
    labelled by their smallest fragment label. O(E) per merge: for small volumes only.

    Exact ties are merged in the order of the smaller label pair first; implementations may
    break ties differently, so `strict=True` raises `TieError` when a merge had a tied rival.
    """
    return _agglomerate(affinities, thresholds, fragments, scoring, init_with_max, strict, history=None)


def agglomerate_history_ref(
    affinities: ArrayLike,
    threshold: float,
    *,
    fragments: ArrayLike,
    scoring: str = "mean",
    init_with_max: bool = True,
    strict: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segmentation at one threshold and the merge history; see `pytc.kernels.agglomerate_history`.

    Returns (segmentation uint64, merges (M, 2) uint64, scores (M,) float32): merge i joined the
    region of fragment label ``merges[i, 1]`` (the larger label) to that of ``merges[i, 0]`` (the
    smaller, which labels the joined region) at ``scores[i]``; as `agglomerate_ref` otherwise.
    """
    history = []
    (segmentation,) = _agglomerate(affinities, [threshold], fragments, scoring, init_with_max, strict, history)
    merges = np.array([(keep, gone) for keep, gone, _ in history], dtype=np.uint64).reshape(-1, 2)
    scores = np.array([score for _, _, score in history], dtype=np.float32)
    return segmentation, merges, scores


def _agglomerate(affinities, thresholds, fragments, scoring, init_with_max, strict, history):
    kind, q, init = parse_scoring(scoring, init_with_max, "agglomerate_ref")
    aff = np.asarray(affinities, dtype=np.float32)
    frag = np.asarray(fragments)
    Z, Y, X = frag.shape

    boundary = {}
    for d, (dz, dy, dx) in enumerate(_NEAREST):
        here = frag[dz:, dy:, dx:]
        there = frag[: Z - dz, : Y - dy, : X - dx]
        values = aff[d, dz:, dy:, dx:]
        mask = (here != 0) & (there != 0) & (here != there)
        for a, b, v in zip(here[mask].tolist(), there[mask].tolist(), values[mask].tolist()):
            boundary.setdefault((min(a, b), max(a, b)), []).append(np.float32(v))
    graph = {key: _initial(kind, values, init) for key, values in boundary.items()}

    region = {int(label): int(label) for label in np.unique(frag) if label != 0}
    results = []
    for threshold in thresholds:
        threshold = np.float32(threshold)
        while graph:
            scored = sorted((_score(kind, q, stat), key) for key, stat in graph.items())
            score, key = scored[0]
            if not score < threshold:
                break
            if strict and len(scored) > 1 and scored[1][0] == score:
                raise TieError(f"edges {key} and {scored[1][1]} tie at score {score}")
            keep, gone = min(key), max(key)
            if history is not None:
                history.append((keep, gone, score))
            del graph[key]
            for label, r in region.items():
                if r == gone:
                    region[label] = keep
            for other_key in [k for k in graph if gone in k]:
                other = other_key[0] if other_key[1] == gone else other_key[1]
                moved = graph.pop(other_key)
                new_key = (min(keep, other), max(keep, other))
                graph[new_key] = _merge(kind, graph[new_key], moved) if new_key in graph else moved
        lut = {0: 0, **region}
        results.append(np.vectorize(lambda v, lut=lut: lut[int(v)], otypes=[np.uint64])(frag).reshape(frag.shape))
    return results
