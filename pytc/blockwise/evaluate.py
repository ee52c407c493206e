"""`evaluate` of a segmentation against a ground truth of any size: contingency tables summed over blocks."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..kernels import contingency_table
from ..kernels._contingency import label_ids
from ..metrics import scores_from_table
from ..validation import fail
from .cluster import run_blocks
from .grid import BlockGrid
from .jobs import client_context, triple
from .volumes import read_block, volume_shape


def table_task(index: int, *, seg: str, gt: str, shape, block_shape, ignore_gt, ignore_seg, threads):
    """The contingency table of block `index` (seg ids, gt ids, counts)."""
    block = BlockGrid(shape, block_shape)[index]
    return contingency_table(
        read_block(seg, block.start, block.stop),
        read_block(gt, block.start, block.stop),
        ignore_seg=ignore_seg,
        ignore_gt=ignore_gt,
        threads=threads,
    )


def evaluate_blockwise(
    seg: str | os.PathLike,
    gt: str | os.PathLike,
    *,
    block_shape: Sequence[int] = (128, 128, 128),
    ignore_gt: int | Sequence[int] = (0,),
    ignore_seg: int | Sequence[int] = (),
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    threads_per_worker: int = 1,
    memory_limit: str | int | None = "auto",
    progress: bool = True,
) -> dict[str, float]:
    """`pytc.metrics.evaluate` of two volumes of any size, one contingency table per block on Dask.

    The tables' counts add up to the whole volume's table, so the scores equal `evaluate`'s on the whole volumes
    (up to the last bits of the float sums).

    Parameters
    ----------
    seg, gt : str
        ``PATH[:DATASET]`` of zarr or HDF5 integer label volumes (Z, Y, X) of the same shape.
    block_shape : three ints
        The blocks each task reads.
    ignore_gt, ignore_seg
        As in `evaluate`: voxels with these labels are not counted.
    client, scheduler, workers, threads_per_worker, memory_limit
        A `distributed.Client` to use; else one of the cluster at `scheduler`; else a `LocalCluster` of `workers`
        processes with these limits (see `dask_client`). Each task counts with `threads_per_worker` threads.
    progress : bool
        A progress bar.

    Returns
    -------
    dict
        `evaluate`'s scores: ``adapted_rand_error``, ``rand_precision``, ``rand_recall``, ``voi_split``,
        ``voi_merge`` and ``voi``. Raises ValueError when nothing is counted.
    """
    fn = "evaluate_blockwise"
    block_shape = triple(block_shape, fn, "block_shape", 1)
    seg, gt = str(seg), str(gt)
    shapes = {}
    for arg, spec in (("seg", seg), ("gt", gt)):
        shape, dtype = volume_shape(spec)
        if len(shape) != 3:
            raise fail(fn, arg, "a volume of shape (Z, Y, X)", shape)
        if not np.issubdtype(dtype, np.integer):
            raise fail(fn, arg, "integer labels (uint8/16/32/64 or int8/16/32/64)", dtype)
        label_ids(ignore_seg if arg == "seg" else ignore_gt, dtype, fn, f"ignore_{arg}")  # checks the values
        shapes[arg] = shape
    if shapes["seg"] != shapes["gt"]:
        raise fail(fn, "gt", f"a volume of the shape of `seg` {shapes['seg']}", shapes["gt"])
    shape = shapes["seg"]
    grid = BlockGrid(shape, block_shape)
    with client_context(client, scheduler, workers, threads_per_worker, memory_limit) as client:
        tables, _ = run_blocks(
            client,
            table_task,
            list(range(len(grid))),
            "evaluate",
            progress,
            seg=seg,
            gt=gt,
            shape=shape,
            block_shape=block_shape,
            ignore_gt=ignore_gt,
            ignore_seg=ignore_seg,
            threads=threads_per_worker,
        )
    if not tables or not any(len(counts) for _, _, counts in tables):
        raise ValueError(
            f"{fn}: nothing to score: `gt` (shape {shape}) has no voxel outside `ignore_gt` {ignore_gt}, or `seg` "
            f"none outside `ignore_seg` {ignore_seg}"
        )
    return scores_from_table(*(np.concatenate(parts) for parts in zip(*tables)))
