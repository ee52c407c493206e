"""Region graphs of blocks, summed over a volume and agglomerated: the kernels of blockwise agglomeration.

`block_region_graph` lists the edges of the faces one block owns with their raw statistics, `merge_region_graphs`
adds the graphs of many blocks into the graph of the whole volume, and `agglomerate_graph` agglomerates it as
`agglomerate` does, returning a lookup table (fragment -> segment) per threshold instead of volumes.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .._extension import load
from ..validation import as_affinities, as_label_array, fail
from ._agglomerate import _as_thresholds
from ._agglomerate_scoring import _CODES, parse_scoring

_ext = load()

NO_VOXEL = np.iinfo(np.uint64).max  # first_voxel of a fragment seen only in a block's halo


class RegionGraph(NamedTuple):
    """The region graph of some blocks of a volume, with raw statistics that add up across blocks."""

    labels: np.ndarray  # uint64 (N,): fragment labels, ascending after merge_region_graphs
    first_voxel: np.ndarray  # uint64 (N,): global C-order index of each fragment's first voxel (NO_VOXEL: unseen)
    edges: np.ndarray  # uint64 (E, 2): label pairs, edges[:, 0] < edges[:, 1]
    first_face: np.ndarray  # uint64 (E,): global scan key of each edge's first face (see block_graph.hpp)
    stats: dict  # raw statistics: {"sum", "count"} (mean), {"max"} (max, quantiles with init_with_max), {"min"} or
    # {"bin_edge", "bin", "bin_count"} (histogram quantile): per edge, or per (edge, bin) sorted by edge then bin


def _raw_kind(scoring, init_with_max, fn):
    kind, q, init = parse_scoring(scoring, init_with_max, fn)
    if kind == "mean":
        raw = "sum"
    elif kind == "min":
        raw = "min"
    elif kind == "max" or init:
        raw = "max"
    elif kind == "histogram":
        raw = "counts"
    else:
        raise ValueError(
            f"{fn}: `scoring` {scoring!r} without init_with_max keeps every boundary value and has no blockwise "
            "form; use 'mean', 'max', 'min', a 'quantile-<q>-histogram' or init_with_max=True"
        )
    return kind, q, init, raw


def _triple(value, fn, arg):
    try:
        values = tuple(operator.index(v) for v in value)
    except (TypeError, ValueError):
        raise fail(fn, arg, "three integers", value) from None
    if len(values) != 3:
        raise fail(fn, arg, "three integers", value)
    return values


def block_region_graph(
    fragments: ArrayLike,
    affinities: ArrayLike,
    *,
    halo: Sequence[int] = (0, 0, 0),
    origin: Sequence[int] = (0, 0, 0),
    volume_shape: Sequence[int] | None = None,
    scoring: str = "mean",
    init_with_max: bool = True,
) -> RegionGraph:
    """The region graph of the faces one block owns, with raw statistics (blockwise `agglomerate`).

    A face between voxels v and v - e_d belongs to the block holding v. The arrays hold the block
    and, along each axis d with ``halo[d] == 1``, one more plane before it (needed unless the block
    starts at the volume's low border), so that the block sees the faces it owns there.

    Parameters
    ----------
    fragments : ndarray of int, shape (Z, Y, X)
        Globally unique fragment labels of the block with its low halo, 0 = background.
    affinities : ndarray, shape (C >= 3, Z, Y, X)
        Affinities of the same voxels, as `agglomerate` takes them (float32 in [0, 1] or uint8).
    halo : three of 0 or 1
        Whether the arrays start one plane before the block along z, y, x.
    origin : three ints
        Global coordinates of the arrays' first voxel (the block's start minus `halo`).
    volume_shape : three ints, optional
        The whole volume's shape (default: the block's, a volume of one block).
    scoring, init_with_max
        As `agglomerate`; the exact quantile without `init_with_max` is not supported.

    Returns
    -------
    RegionGraph
        Summed over all blocks by `merge_region_graphs`, the whole volume's region graph.
    """
    fn = "block_region_graph"
    affinities = as_affinities(affinities, fn)
    fragments = as_label_array(fragments, fn, "fragments")
    if fragments.ndim != 3 or fragments.shape != affinities.shape[1:]:
        raise fail(
            fn, "fragments", f"3D with the shape of the affinities' voxels {affinities.shape[1:]}", fragments.shape
        )
    if np.issubdtype(fragments.dtype, np.signedinteger) and fragments.size and fragments.min() < 0:
        raise fail(fn, "fragments", ">= 0 (0 = background)", f"min {fragments.min()}")
    halo = _triple(halo, fn, "halo")
    if any(h not in (0, 1) for h in halo):
        raise fail(fn, "halo", "three of 0 or 1 (whether the arrays hold the plane before the block)", halo)
    origin = _triple(origin, fn, "origin")
    volume_shape = fragments.shape if volume_shape is None else _triple(volume_shape, fn, "volume_shape")
    kind, q, init, _ = _raw_kind(scoring, init_with_max, fn)
    try:
        out = _ext.block_region_graph(
            np.ascontiguousarray(fragments), affinities, halo, origin, volume_shape, _CODES[kind], q, init
        )
    except ValueError as e:
        raise ValueError(str(e).replace("block_graph:", f"{fn}:")) from None
    stats = {key: value for key, value in out.items() if key not in ("labels", "first_voxel", "edges", "first_face")}
    return RegionGraph(out["labels"], out["first_voxel"], out["edges"], out["first_face"], stats)


def merge_region_graphs(graphs: Sequence[RegionGraph]) -> RegionGraph:
    """The region graph of the union of blocks: each fragment and each pair once, their statistics combined.

    Sums (mean, histogram counts) are added, maxima and minima kept; a fragment's first voxel and an edge's first
    face are the smallest over the blocks. The result does not depend on the order of `graphs` (up to the order of
    the mean's double additions). Labels come out ascending, edges sorted by label pair.
    """
    fn = "merge_region_graphs"
    if isinstance(graphs, RegionGraph):
        raise fail(fn, "graphs", "a sequence of RegionGraphs", "one RegionGraph (wrap it in a list)", TypeError)
    graphs = list(graphs)
    if not graphs:
        raise fail(fn, "graphs", "at least one RegionGraph", "an empty sequence")
    for g in graphs:
        if not isinstance(g, RegionGraph):
            raise fail(fn, "graphs", "RegionGraphs (from block_region_graph)", f"a {type(g).__name__}", TypeError)
    keys = set(graphs[0].stats)
    if any(set(g.stats) != keys for g in graphs):
        raise ValueError("merge_region_graphs: `graphs` must all have the same scoring (their stats differ)")

    labels = np.concatenate([g.labels for g in graphs])
    first_voxel = np.concatenate([g.first_voxel for g in graphs])
    unique_labels, node = np.unique(labels, return_inverse=True)
    node_first = np.full(len(unique_labels), NO_VOXEL, dtype=np.uint64)
    np.minimum.at(node_first, node, first_voxel)

    pairs = np.concatenate([g.edges for g in graphs]).reshape(-1, 2)
    faces = np.concatenate([g.first_face for g in graphs])
    unique_pairs, edge = np.unique(pairs, axis=0, return_inverse=True)
    edge = edge.reshape(-1)
    edge_first = np.full(len(unique_pairs), NO_VOXEL, dtype=np.uint64)
    np.minimum.at(edge_first, edge, faces)

    n = len(unique_pairs)
    if keys == {"sum", "count"}:
        stats = {
            "sum": np.bincount(edge, weights=np.concatenate([g.stats["sum"] for g in graphs]), minlength=n).astype(
                np.float64  # bincount of no edges is int64
            ),
            "count": _sum_at(edge, np.concatenate([g.stats["count"] for g in graphs]), n),
        }
    elif keys == {"max"} or keys == {"min"}:
        (key,) = keys
        combined = np.full(len(unique_pairs), -np.inf if key == "max" else np.inf, dtype=np.float32)
        (np.maximum if key == "max" else np.minimum).at(combined, edge, np.concatenate([g.stats[key] for g in graphs]))
        stats = {key: combined}
    else:
        offsets = np.cumsum([0] + [len(g.edges) for g in graphs[:-1]])
        bin_edge = np.concatenate([edge[o + g.stats["bin_edge"].astype(np.int64)] for o, g in zip(offsets, graphs)])
        bins = np.concatenate([g.stats["bin"] for g in graphs]).astype(np.int64)
        counts = np.concatenate([g.stats["bin_count"] for g in graphs]).astype(np.uint64)
        key, where = np.unique(bin_edge * 256 + bins, return_inverse=True)
        total = _sum_at(where.reshape(-1), counts, len(key))
        stats = {"bin_edge": (key // 256).astype(np.uint64), "bin": (key % 256).astype(np.uint16), "bin_count": total}
        if total.size and total.max() > np.iinfo(np.uint32).max:
            raise ValueError("merge_region_graphs: a histogram bin counts more than 2^32 - 1 faces")
        stats["bin_count"] = total.astype(np.uint32)
    return RegionGraph(unique_labels.astype(np.uint64), node_first, unique_pairs.astype(np.uint64), edge_first, stats)


def _sum_at(index, values, n):
    total = np.zeros(n, dtype=np.uint64)
    np.add.at(total, index, values.astype(np.uint64))
    return total


def agglomerate_graph(
    graph: RegionGraph,
    thresholds: Sequence[float],
    *,
    scoring: str = "mean",
    init_with_max: bool = True,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Agglomerates a region graph (from `merge_region_graphs`) as `agglomerate` agglomerates a volume.

    Nodes are numbered by their first voxel and edges by their first face, as the whole-volume agglomeration numbers
    them, so exactly tied edges merge in the same order: on the region graph of the whole volume's fragments, the
    segmentations equal `agglomerate`'s (labels included), up to the last bits of the mean's double sums.

    Returns
    -------
    labels : ndarray of uint64, shape (N,)
        The fragment labels, ascending.
    tables : list of ndarray of uint64, shape (N,)
        Per threshold, the segment label of each fragment (the label of one of its region's fragments).
    """
    fn = "agglomerate_graph"
    if not isinstance(graph, RegionGraph):
        raise fail(fn, "graph", "a RegionGraph (from merge_region_graphs)", f"a {type(graph).__name__}", TypeError)
    thresholds = _as_thresholds(thresholds, fn)
    kind, q, init, raw = _raw_kind(scoring, init_with_max, fn)
    expected = {"sum": {"sum", "count"}, "counts": {"bin_edge", "bin", "bin_count"}}.get(raw, {raw})
    if set(graph.stats) != expected:
        raise fail(fn, "graph", f"statistics {sorted(expected)} for scoring {scoring!r}", sorted(graph.stats))
    if graph.first_voxel.size and graph.first_voxel.max() == NO_VOXEL:
        raise ValueError(f"{fn}: some fragments were seen only in halos: merge the graphs of all blocks first")

    order = np.lexsort((graph.labels, graph.first_voxel))  # nodes in order of first appearance
    node_of_sorted = np.empty(len(order), dtype=np.int64)
    node_of_sorted[order] = np.arange(len(order))
    sorter = np.argsort(graph.labels, kind="stable")
    ends = node_of_sorted[sorter[np.searchsorted(graph.labels, graph.edges, sorter=sorter)]]
    edge_order = np.lexsort((ends.max(axis=1), ends.min(axis=1), graph.first_face))
    ends = np.sort(ends[edge_order], axis=1).astype(np.uint32)
    stats = graph.stats
    if raw == "counts":
        rank = np.empty(len(edge_order), dtype=np.uint64)
        rank[edge_order] = np.arange(len(edge_order), dtype=np.uint64)
        new_edge = rank[stats["bin_edge"].astype(np.int64)]
        by = np.lexsort((stats["bin"], new_edge))
        stats = {"bin_edge": new_edge[by], "bin": stats["bin"][by], "bin_count": stats["bin_count"][by]}
    else:
        stats = {k: np.ascontiguousarray(v[edge_order]) for k, v in stats.items()}
    limit = np.float32(thresholds[-1]) if thresholds else -np.inf
    state = _ext.GraphAgglomeration(
        np.ascontiguousarray(graph.labels[order], dtype=np.uint64), ends, _CODES[kind], q, init, stats, limit
    )
    tables = []
    for threshold in thresholds:
        state.merge_until(np.float32(threshold))
        table = np.empty(len(order), dtype=np.uint64)
        table[order] = state.region_labels()
        tables.append(table)
    return graph.labels, tables
