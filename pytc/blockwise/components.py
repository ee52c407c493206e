"""Blockwise connected components of a binary or probability volume, equal to the whole volume's (`components_blockwise`).

Steps, each one Dask task per block (the merge: one task):

1. label: the connected components of the block's foreground (cc3d), with ids made unique by the block's number
   (``+ block.index * grid.block_voxels``), written to the job's work folder (``labels.zarr``).
2. pairs: the labels of the block grown by one voxel (zero outside the volume); every foreground voxel of the block
   and its neighbour at each offset of the connectivity give a pair of labels. Inside a block the two labels are
   equal, so the pairs of different labels are the components that touch across the block's faces.
3. merge (sequential): the pairs' components (union-find), each labelled by its smallest label; the final ids are
   1..n in order of each component's smallest label, so they depend on neither the block schedule nor the workers.
4. relabel: each block's labels through the merge's table, into the output's ``components``.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..validation import fail
from .agglomerate import stitch_table
from .grid import BlockGrid, neighbourhood
from .jobs import client_context, run_step, start_job, triple, work_folder
from .store import JobFolder
from .volumes import output_path, read_block, volume_shape, write_block

COMPONENTS = "components"


def foreground(data: np.ndarray, threshold: float) -> np.ndarray:
    """The foreground of a block: ``data > threshold`` for floats, ``data != 0`` for integers and bools."""
    if np.issubdtype(data.dtype, np.floating):
        return data > threshold
    return data != 0


def _labels_spec(work: str) -> tuple[Path, str]:
    return Path(work) / "labels.zarr", "labels"


def label_task(index: int, *, volume: str, shape, block_shape, threshold, connectivity, work):
    """Step 1 for block `index`; returns its seconds and component count."""
    import cc3d

    job = JobFolder(work)
    if job.done("label", index):
        return 0.0, int(job.load("label", index)["count"])
    begin = time.perf_counter()
    grid = BlockGrid(shape, block_shape)
    block = grid[index]
    mask = foreground(read_block(volume, block.start, block.stop), threshold)
    labels, count = cc3d.connected_components(
        mask.view(np.uint8), connectivity=connectivity, out_dtype=np.uint64, return_N=True
    )
    offset = np.uint64(index * grid.block_voxels)
    labels = np.where(labels != 0, labels + offset, np.uint64(0))
    write_block(*_labels_spec(work), block, labels)
    seconds = time.perf_counter() - begin
    job.save("label", index, count=int(count), seconds=seconds)
    return seconds, int(count)


def half_neighbourhood(connectivity: int) -> list[tuple[int, int, int]]:
    """The offsets of `neighbourhood` whose first nonzero coordinate is positive: one of each pair (o, -o).

    Voxel a of block A and its neighbour b = a + o in block B are then paired once, by A; B, seeing a = b - o,
    would only repeat the pair.
    """
    return [o for o in neighbourhood(connectivity) if next(v for v in o if v) > 0]


def pairs_task(index: int, *, shape, block_shape, connectivity, work):
    """Step 2 for block `index`; returns its seconds and its pair count."""
    job = JobFolder(work)
    if job.done("pairs", index):
        return 0.0, len(job.load("pairs", index)["pairs"])
    begin = time.perf_counter()
    block = BlockGrid(shape, block_shape)[index]
    path, name = _labels_spec(work)
    grown = read_block(f"{path}:{name}", [a - 1 for a in block.start], [b + 1 for b in block.stop])
    size = block.shape
    here = grown[1:-1, 1:-1, 1:-1]
    found = [np.zeros((0, 2), dtype=np.uint64)]
    for offset in half_neighbourhood(connectivity):
        there = grown[tuple(slice(1 + o, 1 + o + n) for o, n in zip(offset, size))]
        cross = (here != there) & (here != 0) & (there != 0)
        a, b = here[cross], there[cross]
        found.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))
    pairs = np.unique(np.concatenate(found), axis=0)
    seconds = time.perf_counter() - begin
    job.save("pairs", index, pairs=pairs, seconds=seconds)
    return seconds, len(pairs)


def merge_task(n_blocks: int, *, block_voxels: int, work):
    """Step 3: the table from the blocks' labels to the final ids, saved as the job's ``merge/table.npz``.

    The table keeps what the relabelling needs without listing every label (there may be billions): the labels
    in pairs with their final ids, the labels joined to a smaller one (``merged``) and the number of labels in
    the blocks before each block (``before``). A label's rank among all labels follows from its block and its
    number in the block; a component's final id is its smallest label's rank less the merged labels below it.
    Returns its seconds.
    """
    job = JobFolder(work)
    if job.done("merge", "table"):
        return 0.0
    begin = time.perf_counter()
    counts = np.array([int(job.load("label", i)["count"]) for i in range(n_blocks)], dtype=np.int64)
    before = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    found = [job.load("pairs", i)["pairs"] for i in range(n_blocks)]
    pairs = np.unique(np.concatenate(found).reshape(-1, 2) if found else np.zeros((0, 2), np.uint64), axis=0)
    keys, smallest = stitch_table(pairs.astype(np.uint64))
    merged = keys[smallest != keys]  # sorted, as keys are
    ids = final_ids(smallest, before, merged, block_voxels)
    seconds = time.perf_counter() - begin
    job.save("merge", "table", keys=keys, ids=ids, merged=merged, before=before, seconds=seconds, pairs=len(pairs))
    return seconds


def final_ids(smallest: np.ndarray, before: np.ndarray, merged: np.ndarray, block_voxels: int) -> np.ndarray:
    """The final ids (uint64) of components by their `smallest` labels (nonzero, none of them in `merged`)."""
    smallest = np.asarray(smallest, dtype=np.uint64)
    block = (smallest - np.uint64(1)) // np.uint64(block_voxels)
    number = smallest - block * np.uint64(block_voxels)  # 1.. within its block
    rank = before[block.astype(np.int64)].astype(np.uint64) + number
    return rank - np.searchsorted(merged, smallest).astype(np.uint64)


def relabel_task(index: int, *, out: str, shape, block_shape, work):
    """Step 4 for block `index`; returns its seconds."""
    job = JobFolder(work)
    if job.done("relabel", index):
        return 0.0
    begin = time.perf_counter()
    grid = BlockGrid(shape, block_shape)
    block = grid[index]
    path, name = _labels_spec(work)
    labels = read_block(f"{path}:{name}", block.start, block.stop)
    table = job.load("merge", "table")
    values, inverse = np.unique(labels, return_inverse=True)
    nonzero = values != 0
    new = np.zeros(len(values), dtype=np.uint64)
    new[nonzero] = final_ids(values[nonzero], table["before"], table["merged"], grid.block_voxels)
    keys = table["keys"]
    if len(keys):
        at = np.clip(np.searchsorted(keys, values), 0, len(keys) - 1)
        joined = (keys[at] == values) & nonzero
        new[joined] = table["ids"][at[joined]]
    write_block(Path(out), COMPONENTS, block, new[inverse.reshape(labels.shape)])
    seconds = time.perf_counter() - begin
    job.save("relabel", index, seconds=seconds)
    return seconds


def components_blockwise(
    volume: str | os.PathLike,
    out: str | os.PathLike,
    *,
    threshold: float = 0.5,
    connectivity: int = 6,
    block_shape: Sequence[int] = (128, 128, 128),
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    threads_per_worker: int = 1,
    memory_limit: str | int | None = "auto",
    work: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Connected components of a volume's foreground, of any size, block by block on Dask.

    The result is the partition of ``cc3d.connected_components(foreground, connectivity)`` of the whole volume,
    with ids 1..n in an order that depends on neither the block schedule nor the worker count (but on
    `block_shape`).

    Parameters
    ----------
    volume : str
        ``PATH[:DATASET]`` of a zarr or HDF5 volume (Z, Y, X): probabilities (float; foreground: ``> threshold``),
        or labels or a mask (integer or bool; foreground: ``!= 0``, `threshold` unused).
    out : str
        A zarr group (``*.zarr``) that receives ``components`` (uint64, 0 = background), chunked by block.
    threshold : float
        The foreground of a float volume is ``volume > threshold``.
    connectivity : int
        6 (faces), 18 (faces and edges) or 26 (faces, edges and corners).
    block_shape : three ints
        Blocks, also the output chunks.
    client, scheduler, workers, threads_per_worker, memory_limit
        A `distributed.Client` to use; else one of the cluster at `scheduler`; else a `LocalCluster` of `workers`
        processes with these limits (see `dask_client`).
    work : str, optional
        The job's work folder (default: ``<out>.work`` beside `out`), which also holds the blocks' labels before
        the merge (``labels.zarr``). A re-run with the same parameters skips every block recorded there; other
        parameters are an error unless `overwrite`.
    progress : bool
        A progress bar per step.

    Returns
    -------
    dict
        ``out``, ``dataset`` (``components``), ``blocks``, ``components`` (their count), ``pairs`` (label pairs
        across block faces), ``work``, and per step the wall seconds (``seconds``) and the summed task seconds
        (``task_seconds``, 0 for blocks done by an earlier run).
    """
    fn = "components_blockwise"
    if connectivity not in (6, 18, 26):
        raise fail(fn, "connectivity", "6, 18 or 26", connectivity)
    try:
        threshold = float(threshold)
    except (TypeError, ValueError):
        raise fail(fn, "threshold", "a number", threshold) from None
    block_shape = triple(block_shape, fn, "block_shape", 1)
    out = output_path(out)
    volume = str(volume)
    shape, dtype = volume_shape(volume)
    if len(shape) != 3:
        raise fail(fn, "volume", "a volume of shape (Z, Y, X)", shape)
    if dtype.kind not in "biuf":
        raise fail(fn, "volume", "float, integer or bool", dtype)
    work = work_folder(out, work)
    grid = BlockGrid(shape, block_shape)
    parameters = {
        "step": "components",
        "volume": os.path.abspath(volume),
        "out": str(out.resolve()),
        "shape": shape,
        "block_shape": block_shape,
        "foreground": f"> {threshold!r}" if np.issubdtype(dtype, np.floating) else "!= 0",
        "connectivity": connectivity,
    }
    outputs = [(out, COMPONENTS), _labels_spec(str(work))]
    job, _ = start_job(work, parameters, overwrite, outputs, shape, np.uint64, block_shape)
    common = {"shape": shape, "block_shape": block_shape, "work": str(work)}
    summary: dict[str, Any] = {"out": str(out), "dataset": COMPONENTS, "blocks": len(grid), "work": str(work)}
    indices = list(range(len(grid)))
    with client_context(client, scheduler, workers, threads_per_worker, memory_limit) as client:
        step = functools.partial(run_step, summary, client, progress=progress)
        results = step(
            label_task, indices, "label", volume=volume, threshold=threshold, connectivity=connectivity, **common
        )
        labels = sum(count for _, count in results)
        step(pairs_task, indices, "pairs", connectivity=connectivity, **common)
        step(merge_task, [len(grid)], "merge", block_voxels=grid.block_voxels, work=str(work))
        record = job.load("merge", "table")
        summary.update(components=labels - len(record["merged"]), pairs=int(record["pairs"]))
        step(relabel_task, indices, "relabel", out=str(out), **common)
    return summary
