"""Blockwise watershed and agglomeration of affinities, equal to the whole-volume kernels (`segment_blockwise`).

Steps, each one Dask task per block (the merge: one task):

1. fragments: the watershed of the block grown by a halo of context; the block's interior is written (to the work
   folder's ``pieces.zarr``) with ids made unique by the block's number. Cutting a fragment at a block face makes two pieces, so each block also records,
   on each of its faces, whether its watershed put the voxels on both sides in one fragment.
2. graph: the region graph of the faces the block owns (`pytc.kernels.block_region_graph`: the agglomeration's
   statistics, faces across the block's low faces included), and the stitches: piece pairs across a low face that
   both blocks' watersheds joined.
3. merge (sequential): the stitched pieces become one fragment, the blocks' graphs are summed into the volume's
   (`merge_region_graphs`) and agglomerated at every threshold (`agglomerate_graph`) into a lookup table.
4. relabel: each block's pieces through the table: one segmentation per threshold, and the stitched fragments.

Given whole-volume fragments (step 1 skipped), the segmentations equal `pytc.kernels.agglomerate`'s exactly (labels
included, up to the last bits of the mean's double sums). With blockwise fragments they equal it where each block's
watershed, with its halo, equals the whole volume's near the block's faces; `DEFAULT_HALO` says how wide it must be.
"""

from __future__ import annotations

import functools
import itertools
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..kernels import agglomerate_graph, block_region_graph, merge_region_graphs, watershed
from ..kernels._region_graph import RegionGraph, _raw_kind
from ..validation import fail
from .grid import DEFAULT_HALO, BlockGrid, halo_region
from .jobs import client_context, run_step, start_job, triple, work_folder
from .store import JobFolder
from .volumes import output_path, read_block, volume_shape, write_block

GRAPH_KEYS = ("labels", "first_voxel", "edges", "first_face")
PIECES = "pieces.zarr"  # the blocks' fragments before stitching, in the work folder


def segmentation_name(threshold: float) -> str:
    """The dataset of the segmentation at `threshold` in the output group, e.g. ``segmentation_0.5``."""
    return f"segmentation_{threshold:g}"


def fragments_task(index: int, *, affinities: str, pieces: str, shape, block_shape, halo, watershed_args, work):
    """Step 1 for block `index`, its fragments written to the array ``pieces`` of the zarr group `pieces`; returns its
    seconds and fragment count."""
    job = JobFolder(work)
    if job.done("fragments", index):
        return 0.0, int(job.load("fragments", index)["count"])
    begin = time.perf_counter()
    grid = BlockGrid(shape, block_shape)
    block = grid[index]
    start, stop = halo_region(block, halo, shape)
    fragments = watershed(read_block(affinities, start, stop, channels=3), **watershed_args)
    inner = tuple(slice(a - s, b - s) for a, b, s in zip(block.start, block.stop, start))
    faces = {}
    for d in range(3):
        # whether the watershed joined the voxels on both sides of the block's low (high) face along d
        first, last = inner[d].start, inner[d].stop
        if first > 0:
            faces[f"low{d}"] = _layer(fragments, inner, d, first) == _layer(fragments, inner, d, first - 1)
        if last < fragments.shape[d]:
            faces[f"high{d}"] = _layer(fragments, inner, d, last - 1) == _layer(fragments, inner, d, last)
    interior = fragments[inner]
    ids, count = _unique_ids(interior, index * grid.block_voxels)
    write_block(Path(pieces), "pieces", block, ids)
    seconds = time.perf_counter() - begin
    job.save("fragments", index, count=count, seconds=seconds, **faces)
    return seconds, count


def _layer(array, inner, axis, position):
    index = list(inner)
    index[axis] = position
    return array[tuple(index)]


def _unique_ids(labels, offset):
    """Labels renumbered 1..n (0 stays 0) plus `offset`, as uint64; and n."""
    values, inverse = np.unique(labels, return_inverse=True)
    nonzero = values != 0
    new = np.zeros(len(values), dtype=np.uint64)
    new[nonzero] = np.arange(1, int(nonzero.sum()) + 1, dtype=np.uint64) + np.uint64(offset)
    return new[inverse.reshape(labels.shape)], int(nonzero.sum())


def graph_task(
    index: int, *, affinities: str, fragments: str, shape, block_shape, scoring, init_with_max, work, stitch: bool
):
    """Step 2 for block `index`; returns its seconds."""
    job = JobFolder(work)
    if job.done("graph", index):
        return 0.0
    begin = time.perf_counter()
    grid = BlockGrid(shape, block_shape)
    block = grid[index]
    halo = tuple(int(a > 0) for a in block.start)
    start = tuple(a - h for a, h in zip(block.start, halo))
    labels = read_block(fragments, start, block.stop)
    graph = block_region_graph(
        labels,
        read_block(affinities, start, block.stop, channels=3),
        halo=halo,
        origin=start,
        volume_shape=shape,
        scoring=scoring,
        init_with_max=init_with_max,
    )
    pairs = [np.zeros((0, 2), dtype=np.uint64)]
    own = job.load("fragments", index) if stitch else {}
    for d in range(3):
        below = grid.neighbour(block, d, -1) if stitch else None
        if below is None or f"low{d}" not in own:
            continue
        theirs = job.load("fragments", below.index).get(f"high{d}")
        if theirs is None:
            continue
        inner = tuple(slice(h, None) for h in halo)
        here, there = _layer(labels, inner, d, 1), _layer(labels, inner, d, 0)
        joined = own[f"low{d}"] & theirs & (here != there) & (here != 0) & (there != 0)
        pairs.append(np.stack([np.minimum(here, there)[joined], np.maximum(here, there)[joined]], axis=1))
    stitches = np.unique(np.concatenate(pairs).astype(np.uint64), axis=0)
    seconds = time.perf_counter() - begin
    stats = {f"stat_{k}": v for k, v in graph.stats.items()}
    job.save("graph", index, stitches=stitches, seconds=seconds, **{k: getattr(graph, k) for k in GRAPH_KEYS}, **stats)
    return seconds


def _load_graph(job, index):
    record = job.load("graph", index)
    stats = {k[len("stat_") :]: v for k, v in record.items() if k.startswith("stat_")}
    return RegionGraph(*(record[k] for k in GRAPH_KEYS), stats), record["stitches"]


def stitch_table(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels, representatives): each label in `pairs` (K, 2) and the smallest label it is joined to."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    labels, where = np.unique(pairs, return_inverse=True)
    where = where.reshape(-1, 2)
    n = len(labels)
    graph = coo_matrix((np.ones(len(where), dtype=np.int8), (where[:, 0], where[:, 1])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    smallest = np.full(component.max() + 1 if n else 0, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(smallest, component, labels)
    return labels, smallest[component]


def _through(table, values):
    """`values` mapped by the sorted table (keys, new), unchanged where not a key."""
    keys, new = table
    if len(keys) == 0:
        return values
    at = np.clip(np.searchsorted(keys, values), 0, len(keys) - 1)
    return np.where(keys[at] == values, new[at], values)


def _stitched(graph: RegionGraph, table) -> RegionGraph:
    """The graph with stitched pieces as one fragment: labels and edges mapped, edges inside a fragment dropped."""
    edges = _through(table, graph.edges)
    keep = edges[:, 0] != edges[:, 1]
    edges = np.sort(edges[keep], axis=1)
    stats = dict(graph.stats)
    if "bin_edge" in stats:
        new_index = np.cumsum(keep) - 1
        kept_bins = keep[stats["bin_edge"].astype(np.int64)]
        stats = {k: v[kept_bins] for k, v in stats.items()}
        stats["bin_edge"] = new_index[stats["bin_edge"].astype(np.int64)].astype(np.uint64)
    else:
        stats = {k: v[keep] for k, v in stats.items()}
    return RegionGraph(_through(table, graph.labels), graph.first_voxel, edges, graph.first_face[keep], stats)


def merge_task(n_blocks: int, *, thresholds, scoring, init_with_max, work):
    """Step 3: the lookup table of every threshold, saved as the job's ``merge/table.npz``; returns its seconds."""
    job = JobFolder(work)
    if job.done("merge", "table"):
        return 0.0
    begin = time.perf_counter()
    loaded = [_load_graph(job, i) for i in range(n_blocks)]
    table = stitch_table(np.concatenate([s for _, s in loaded]).reshape(-1, 2))
    raw_labels = np.unique(np.concatenate([g.labels for g, _ in loaded]))
    merged = merge_region_graphs([_stitched(g, table) for g, _ in loaded])
    del loaded
    labels, tables = agglomerate_graph(merged, thresholds, scoring=scoring, init_with_max=init_with_max)
    fragment_of = _through(table, raw_labels)
    at = np.searchsorted(labels, fragment_of)
    segments = np.stack([t[at] for t in tables]) if tables else np.zeros((0, len(raw_labels)), dtype=np.uint64)
    seconds = time.perf_counter() - begin
    job.save(
        "merge",
        "table",
        fragments=raw_labels,
        stitched_fragments=fragment_of,
        segments=segments,
        seconds=seconds,
        nodes=len(merged.labels),
        edges=len(merged.edges),
        stitched=len(table[0]),
    )
    return seconds


def relabel_task(index: int, *, fragments: str, out: str, shape, block_shape, names, work, stitch: bool = False):
    """Step 4 for block `index`: its segmentation at each threshold and, with `stitch`, its fragments (the pieces,
    stitched) as ``fragments``; returns its seconds."""
    job = JobFolder(work)
    if job.done("relabel", index):
        return 0.0
    begin = time.perf_counter()
    block = BlockGrid(shape, block_shape)[index]
    labels = read_block(fragments, block.start, block.stop)
    with np.load(job.record_path("merge", "table")) as record:
        keys, segments = record["fragments"], record["segments"]
        tables = [*segments, record["stitched_fragments"]] if stitch else list(segments)
    values, inverse = np.unique(labels, return_inverse=True)
    at = np.clip(np.searchsorted(keys, values), 0, max(len(keys) - 1, 0))
    for name, table in zip([*names, "fragments"], tables):
        mapped = np.where(values == 0, np.uint64(0), table[at] if len(keys) else np.uint64(0))
        write_block(Path(out), name, block, mapped[inverse.reshape(labels.shape)])
    seconds = time.perf_counter() - begin
    job.save("relabel", index, seconds=seconds)
    return seconds


def segment_blockwise(
    affinities: str | os.PathLike,
    out: str | os.PathLike,
    thresholds: Sequence[float],
    *,
    fragments: str | os.PathLike | None = None,
    block_shape: Sequence[int] = (128, 128, 128),
    halo: Sequence[int] = DEFAULT_HALO,
    scoring: str = "mean",
    init_with_max: bool = True,
    low: float = 0.0001,
    high: float = 0.9999,
    size_threshold: int = 64,
    dust: int = 16,
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    threads_per_worker: int = 1,
    memory_limit: str | int | None = "auto",
    work: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Watershed and agglomeration of an affinity volume of any size, block by block on Dask.

    Parameters
    ----------
    affinities : str
        ``PATH[:DATASET]`` of a zarr or HDF5 volume (C >= 3, Z, Y, X), float32 in [0, 1] or uint8, as
        `pytc.kernels.agglomerate` takes them.
    out : str
        A zarr group (``*.zarr``) that receives ``fragments`` (uint64, unless given) and one uint64
        ``segmentation_<t>`` per threshold (see `segmentation_name`), chunked by block.
    thresholds : sequence of float
        Ascending agglomeration thresholds, as `agglomerate`'s.
    fragments : str, optional
        ``PATH[:DATASET]`` of existing fragments (e.g. a whole-volume watershed): step 1 is skipped.
    block_shape, halo : three ints
        Blocks (also the output chunks) and the context each block's watershed sees beyond its faces (see
        `DEFAULT_HALO`: too small a halo makes fragments that differ from the whole volume's near the faces).
    scoring, init_with_max, low, high, size_threshold, dust
        As in `agglomerate` and `watershed` (no exact quantile without `init_with_max`: use its histogram form).
    client, scheduler, workers, threads_per_worker, memory_limit
        A `distributed.Client` to use; else one of the cluster at `scheduler`; else a `LocalCluster` of `workers`
        processes with these limits (see `dask_client`).
    work : str, optional
        The job's work folder (default: ``<out>.work`` beside `out`). A re-run with the same parameters skips
        every block recorded there; other parameters are an error unless `overwrite`.
    progress : bool
        A progress bar per step.

    Returns
    -------
    dict
        ``out``, ``datasets``, ``blocks``, ``fragments`` (the blocks' pieces), ``nodes``/``edges`` of the merged
        region graph (its nodes: the fragments once stitched), ``stitched`` pieces, and per step the wall seconds (``seconds``) and the summed task seconds
        (``task_seconds``, 0 for blocks done by an earlier run).
    """
    thresholds = [float(t) for t in thresholds]
    if any(b < a for a, b in itertools.pairwise(thresholds)):
        raise fail("segment_blockwise", "thresholds", "ascending", thresholds)
    _raw_kind(scoring, init_with_max, "segment_blockwise")
    block_shape = triple(block_shape, "segment_blockwise", "block_shape", 1)
    halo = triple(halo, "segment_blockwise", "halo", 0)
    out = output_path(out)
    affinities = str(affinities)
    shape, dtype = volume_shape(affinities)
    if len(shape) != 4 or shape[0] < 3:
        raise fail("segment_blockwise", "affinities", "a volume of shape (C >= 3, Z, Y, X)", shape)
    if dtype not in (np.float32, np.uint8):
        raise fail("segment_blockwise", "affinities", "float32 or uint8", dtype)
    shape = shape[1:]
    if fragments is not None:
        fragment_shape, _ = volume_shape(str(fragments))
        if tuple(fragment_shape) != shape:
            raise fail("segment_blockwise", "fragments", f"a volume of shape {shape}", fragment_shape)
    work = work_folder(out, work)
    grid = BlockGrid(shape, block_shape)
    names = [segmentation_name(t) for t in thresholds]
    parameters = {
        "affinities": os.path.abspath(affinities),
        "fragments": None if fragments is None else os.path.abspath(str(fragments)),
        "out": str(out.resolve()),
        "thresholds": thresholds,
        "shape": shape,
        "block_shape": block_shape,
        "halo": halo,
        "scoring": scoring,
        "init_with_max": init_with_max,
        "watershed": [low, high, size_threshold, dust],
    }
    outputs = [(out, name) for name in ([] if fragments is not None else ["fragments"]) + names]
    if fragments is None:
        outputs.append((work / PIECES, "pieces"))
    job, _ = start_job(work, parameters, overwrite, outputs, shape, np.uint64, block_shape)
    fragment_spec = str(fragments) if fragments is not None else f"{work / PIECES}:pieces"
    common = {"shape": shape, "block_shape": block_shape, "work": str(work)}
    summary: dict[str, Any] = {"out": str(out), "datasets": names, "blocks": len(grid), "work": str(work)}
    indices = list(range(len(grid)))
    with client_context(client, scheduler, workers, threads_per_worker, memory_limit) as client:
        step = functools.partial(run_step, summary, client, progress=progress)
        if fragments is None:
            watershed_args = {
                "low": low,
                "high": high,
                "size_threshold": size_threshold,
                "dust": dust,
                "threads": threads_per_worker,
            }
            results = step(
                fragments_task,
                indices,
                "fragments",
                affinities=affinities,
                pieces=str(work / PIECES),
                halo=halo,
                watershed_args=watershed_args,
                **common,
            )
            summary["fragments"] = sum(count for _, count in results)
        stitch = fragments is None
        step(
            graph_task,
            indices,
            "graph",
            affinities=affinities,
            fragments=fragment_spec,
            scoring=scoring,
            init_with_max=init_with_max,
            stitch=stitch,
            **common,
        )
        step(
            merge_task,
            [len(grid)],
            "merge",
            thresholds=thresholds,
            scoring=scoring,
            init_with_max=init_with_max,
            work=str(work),
        )
        with np.load(job.record_path("merge", "table")) as record:  # the scalars only (read lazily)
            summary.update({key: int(record[key]) for key in ("nodes", "edges", "stitched")})
        step(
            relabel_task,
            indices,
            "relabel",
            fragments=fragment_spec,
            out=str(out),
            names=names,
            stitch=stitch,
            **common,
        )
    return summary
