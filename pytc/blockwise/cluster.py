"""The Dask cluster a blockwise job runs on, and running one task per block on it with progress."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

INSTALL_HINT = "blockwise jobs run on Dask: pip install 'pytc[blockwise]' (dask[distributed])"


def _distributed():
    try:
        import distributed
    except ImportError as e:
        raise ImportError(f"{INSTALL_HINT}; importing dask.distributed failed: {e}") from e
    return distributed


@contextlib.contextmanager
def dask_client(
    scheduler: str | None = None,
    *,
    workers: int | None = None,
    threads_per_worker: int = 1,
    memory_limit: str | int | None = "auto",
) -> Iterator[Any]:
    """A `distributed.Client`: of the cluster at `scheduler` (an address such as ``tcp://host:8786``), or of a new
    `LocalCluster` of `workers` processes (default: one per core) that is closed on exit.

    `memory_limit` is per worker (e.g. ``"1GiB"``); Dask pauses a worker near it and restarts one that exceeds it,
    and the tasks it held run again elsewhere.
    """
    distributed = _distributed()
    if scheduler is not None:
        client = distributed.Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    import os

    cluster = distributed.LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=threads_per_worker,
        memory_limit=memory_limit,
        processes=True,
        dashboard_address=":0",  # any free port: several clusters (e.g. parallel tests) may run at once
    )
    try:
        with distributed.Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def run_blocks(
    client: Any, task: Callable, items: Sequence[Any], step: str, progress: bool = True, **kwargs: Any
) -> tuple[list[Any], float]:
    """``task(item, **kwargs)`` for every item on the cluster, as one Dask graph; (results in order, seconds).

    Tasks of a worker that dies are run again by Dask (its `distributed.scheduler.allowed-failures` times). The
    first task that raises cancels the rest and its exception is raised here.
    """
    distributed = _distributed()
    begin = time.perf_counter()
    if not items:
        return [], 0.0
    futures = client.map(
        task, list(items), key=[f"pytc-{step}-{i}-{time.time_ns()}" for i in range(len(items))], pure=False, **kwargs
    )
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(futures), desc=step, unit="block")
    try:
        for future in distributed.as_completed(futures):
            if future.status == "error":
                future.result()  # raises the task's exception
            if bar is not None:
                bar.update()
        results = client.gather(futures)
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        if bar is not None:
            bar.close()
    client.run(release_memory)
    return results, time.perf_counter() - begin


def release_memory() -> None:
    """Hands memory that Python freed back to the system (glibc keeps freed heap pages), so that a worker's memory
    after a step does not count against the next one: the merge, one task for the volume, needs a worker's room."""
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
