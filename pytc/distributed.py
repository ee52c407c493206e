"""Starting processes for training or inference: one per GPU (DDP over NCCL) or `num_proc` on the CPU (gloo),
or the processes `torchrun` started (it sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT)."""

import os
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

TIMEOUT = timedelta(minutes=30)  # validation and checkpoints on rank 0 make the others wait


def under_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "LOCAL_RANK" in os.environ


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _device(use_gpu, local_rank):
    if use_gpu:
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def _threads(requested, local_processes):
    threads = requested or max(1, (os.cpu_count() or 1) // local_processes)
    torch.set_num_threads(threads)
    return threads


def _process(local_rank, fn, world, use_gpu, threads, port, args):
    """Body of a spawned process: joins the process group, runs fn(rank, world, device, threads, *args)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    backend = "nccl" if use_gpu else "gloo"
    device = _device(use_gpu, local_rank)
    dist.init_process_group(
        backend, rank=local_rank, world_size=world, timeout=TIMEOUT, device_id=device if use_gpu else None
    )
    try:
        fn(local_rank, world, device, _threads(threads, world), *args)
    finally:
        dist.destroy_process_group()


def launch(fn: Callable[..., Any], processes: int, use_gpu: bool, threads: int = 0, args: tuple = ()) -> None:
    """Runs ``fn(rank, world, device, threads, *args)`` in every training process.

    Under torchrun this process is one of them. Otherwise one process runs fn directly, and several are
    spawned (`processes` of them) with a fresh process group on a free local port.
    """
    if under_torchrun():
        rank, world, local = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"])
        device = _device(use_gpu, local)
        dist.init_process_group("nccl" if use_gpu else "gloo", timeout=TIMEOUT, device_id=device if use_gpu else None)
        try:
            return fn(rank, world, device, _threads(threads, int(os.environ.get("LOCAL_WORLD_SIZE", world))), *args)
        finally:
            dist.destroy_process_group()
    if processes == 1:
        return fn(0, 1, _device(use_gpu, 0), _threads(threads, 1), *args)
    mp.spawn(_process, args=(fn, processes, use_gpu, threads, free_port(), args), nprocs=processes, join=True)
    return None
