"""What every blockwise job shares: checking its arguments, its cluster, its work folder and outputs, its timings."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..validation import fail
from .cluster import dask_client, run_blocks
from .store import JobFolder
from .volumes import create_output


def triple(value: Any, fn: str, arg: str, minimum: int) -> tuple[int, int, int]:
    """`value` as three ints >= `minimum` (z, y, x); else the error of `fn` naming `arg`."""
    try:
        values = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise fail(fn, arg, "three integers (z, y, x)", value) from None
    if len(values) != 3 or min(values) < minimum:
        raise fail(fn, arg, f"three integers >= {minimum} (z, y, x)", value)
    return values


def work_folder(out: Path, work: str | os.PathLike | None) -> Path:
    """The job's work folder: `work`, else ``<out>.work`` beside the output group."""
    return Path(work) if work is not None else out.with_name(out.name + ".work")


def start_job(
    work: Path,
    parameters: dict[str, Any],
    overwrite: bool,
    outputs: Sequence[tuple[Path, str]],
    shape: Sequence[int],
    dtype: Any,
    block_shape: Sequence[int],
) -> tuple[JobFolder, bool]:
    """The job's folder and whether it resumes an earlier run of the same job (see `JobFolder.start`).

    A new run (re)creates every output array ``(group, name)`` of `outputs`, chunked by block.
    """
    job = JobFolder(work)
    resumed = job.start(parameters, overwrite=overwrite)
    if not resumed:
        import zarr

        for group, name in outputs:
            zarr.open_group(str(group), mode="a")
            create_output(group, name, shape, dtype, block_shape, overwrite=True)
    return job, resumed


def timing(seconds: float, task_seconds: Sequence[float]) -> dict[str, Any]:
    """A step's wall `seconds`, its summed task seconds (0 for blocks an earlier run did) and its task count."""
    return {"seconds": seconds, "task_seconds": float(sum(task_seconds)), "tasks": len(task_seconds)}


def run_step(summary: dict[str, Any], client: Any, task, items: Sequence[Any], step: str, progress: bool, **kwargs):
    """`run_blocks`, with the step's `timing` recorded as ``summary[f"{step}_step"]``; returns the tasks' results.

    A task returns its seconds, or a tuple whose first item is its seconds.
    """
    results, seconds = run_blocks(client, task, items, step, progress, **kwargs)
    summary[f"{step}_step"] = timing(seconds, [r[0] if isinstance(r, tuple) else r for r in results])
    return results


def client_context(client, scheduler, workers, threads_per_worker, memory_limit):
    """`client` as is (not closed after), else a new one from `dask_client` (closed after)."""
    if client is not None:
        return contextlib.nullcontext(client)
    return dask_client(scheduler, workers=workers, threads_per_worker=threads_per_worker, memory_limit=memory_limit)
