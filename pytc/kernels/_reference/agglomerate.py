"""References for agglomerate (a dict region graph and a repeated minimum search) and for the region graph of
blockwise agglomeration (a dict of faces per label pair): small volumes only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .._agglomerate_scoring import parse_scoring
from .._region_graph import RegionGraph

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


def region_graph_ref(
    fragments: ArrayLike, affinities: ArrayLike, *, scoring: str = "mean", init_with_max: bool = True
) -> RegionGraph:
    """The region graph of a whole volume with raw statistics; see `pytc.kernels.block_region_graph`.

    Every face between a voxel v and its neighbour v - e_d (d = z, y, x) whose two fragments differ and are both
    nonzero adds the affinity ``affinities[d, v]`` to the edge of their label pair. The statistics are those that
    blocks add up: the sum and count of the values (mean), their maximum (max, and the quantiles with
    `init_with_max`), their minimum (min) or the count of values per histogram bin (histogram quantile without
    `init_with_max`); the exact quantile without `init_with_max` has none. A fragment's first voxel is the C-order
    index of its first voxel; an edge's first face the smallest ``((z * Y + y) * 3 + d) * X + x`` of its faces.
    Labels come out ascending and edges sorted by label pair, as `merge_region_graphs` returns them.
    """
    fn = "region_graph_ref"
    kind, _, init = parse_scoring(scoring, init_with_max, fn)
    if kind == "quantile" and not init:
        raise ValueError(f"{fn}: `scoring` {scoring!r} without init_with_max has no raw statistic that blocks add up")
    frag = np.asarray(fragments)
    aff = np.asarray(affinities)
    aff = aff / np.float32(255) if aff.dtype == np.uint8 else aff
    aff = aff.astype(np.float32)
    Z, Y, X = frag.shape

    # fragments: ascending labels, each with the C-order index of its first voxel
    values, first = np.unique(frag.ravel(), return_index=True)
    labels = [int(v) for v in values if v != 0]
    first_voxel = [int(i) for v, i in zip(values, first) if v != 0]

    # faces: {label pair: [(face key, affinity), ...]}
    faces = {}
    for d, (dz, dy, dx) in enumerate(_NEAREST):
        here = frag[dz:, dy:, dx:]
        there = frag[: Z - dz, : Y - dy, : X - dx]
        mask = (here != 0) & (there != 0) & (here != there)
        for z, y, x in zip(*np.nonzero(mask)):
            z, y, x = int(z) + dz, int(y) + dy, int(x) + dx  # v, the voxel whose face it is
            a, b = int(frag[z, y, x]), int(frag[z - dz, y - dy, x - dx])
            key = ((z * Y + y) * 3 + d) * X + x
            faces.setdefault((min(a, b), max(a, b)), []).append((key, aff[d, z, y, x]))

    pairs = sorted(faces)
    first_face = [min(key for key, _ in faces[pair]) for pair in pairs]
    boundary = [[value for _, value in faces[pair]] for pair in pairs]
    if kind == "mean":
        stats = {
            "sum": np.array([sum(float(v) for v in values) for values in boundary], dtype=np.float64),
            "count": np.array([len(values) for values in boundary], dtype=np.uint64),
        }
    elif kind == "min":
        stats = {"min": np.array([min(values) for values in boundary], dtype=np.float32)}
    elif kind == "max" or init:  # the quantiles with init_with_max start from the maximum
        stats = {"max": np.array([max(values) for values in boundary], dtype=np.float32)}
    else:  # histogram without init_with_max: (edge, bin, count) rows, by edge then bin
        rows = []
        for e, values in enumerate(boundary):
            counts = {}
            for v in values:
                counts[_bin(v)] = counts.get(_bin(v), 0) + 1
            rows += [(e, b, counts[b]) for b in sorted(counts)]
        stats = {
            "bin_edge": np.array([e for e, _, _ in rows], dtype=np.uint64),
            "bin": np.array([b for _, b, _ in rows], dtype=np.uint16),
            "bin_count": np.array([n for _, _, n in rows], dtype=np.uint32),
        }
    return RegionGraph(
        np.array(labels, dtype=np.uint64),
        np.array(first_voxel, dtype=np.uint64),
        np.array(pairs, dtype=np.uint64).reshape(-1, 2),
        np.array(first_face, dtype=np.uint64),
        stats,
    )
