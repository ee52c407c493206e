"""Reading blocks of input volumes (zarr or HDF5) and writing blocks of zarr outputs, inside the tasks."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.io import ZARR_SUFFIXES, create_zarr_array, open_volume, split_dataset
from ..validation import fail
from .grid import read_region


@contextlib.contextmanager
def opened(spec: str | os.PathLike):
    """The array-like of ``PATH[:DATASET]``, closed after use (HDF5)."""
    volume = open_volume(*split_dataset(spec))
    try:
        yield volume
    finally:
        if hasattr(volume, "file"):
            volume.file.close()


def volume_shape(spec: str | os.PathLike) -> tuple[int, ...]:
    with opened(spec) as volume:
        return tuple(int(s) for s in volume.shape), np.dtype(volume.dtype)


def read_block(spec: str, start: Sequence[int], stop: Sequence[int], channels: int | None = None) -> np.ndarray:
    """Voxels [start, stop) of a volume (zero outside it); with `channels`, its first `channels` channels."""
    with opened(spec) as volume:
        if channels is None:
            return np.ascontiguousarray(read_region(volume, start, stop))
        return np.ascontiguousarray(read_region(_Channels(volume, channels), start, stop, channels=True))


class _Channels:
    """The first `count` channels of a (C, Z, Y, X) volume, read lazily."""

    def __init__(self, volume, count):
        self.volume, self.count = volume, count
        self.shape = (count, *volume.shape[1:])

    def __getitem__(self, index):
        return self.volume[(slice(0, self.count), *index[1:])]


def output_path(out: str | os.PathLike) -> Path:
    """The zarr group a blockwise job writes into; other formats are refused (their writers are not parallel)."""
    path = Path(out)
    if path.suffix.lower() not in ZARR_SUFFIXES:
        raise fail(
            "blockwise", "out", "a zarr group (a path ending in .zarr): workers write its blocks in parallel", str(out)
        )
    return path


def create_output(out: Path, name: str, shape, dtype, block_shape, overwrite: bool = False) -> None:
    """The array `name` of the zarr group `out`, chunked by block, so that each block writes whole chunks."""
    create_zarr_array(out, name, shape, dtype, chunks=block_shape, overwrite=overwrite)


def write_block(out: Path, name: str, block, data: np.ndarray) -> None:
    import zarr

    array = zarr.open_group(str(out), mode="r+")[name]
    array[block.slices] = data
