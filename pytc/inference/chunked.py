"""Prediction of volumes larger than memory: chunk by chunk into zarr or HDF5, resumable, on several processes.

The volume is cut into chunks; each is predicted from the windows of the global grid that overlap it (its
input is the chunk plus the halo those windows reach), so the output does not depend on the chunk size or on
which process predicts which chunk. Peak memory follows the chunk size, not the volume. A chunk is written
whole (one storage chunk per dataset and chunk in zarr, whose files are replaced atomically), then marked done
in a folder beside the output; an interrupted run resumes with the chunks not marked. Reading the next chunk
and writing the last one run in background threads while the model works on the current one.
"""

import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..data.io import HDF5_SUFFIXES, ZARR_SUFFIXES, create_zarr_array, split_dataset
from .uncertainty import entropy, probability_tasks

DTYPES = ("float32", "float16", "uint8")


def chunk_regions(shape, chunk):
    """Every chunk (a tuple of slices) of a volume, in C order; the last chunk of an axis may be smaller."""
    axes = [[slice(a, min(a + c, n)) for a in range(0, n, c)] for n, c in zip(shape, chunk)]
    return list(itertools.product(*axes))


def is_chunked_format(path):
    return Path(split_dataset(path)[0]).suffix.lower() in HDF5_SUFFIXES + ZARR_SUFFIXES


class _Buffered:
    """A Source whose halo region around one chunk has been read into memory."""

    def __init__(self, source, region, data):
        self.spatial, self.region, self.data = source.spatial, region, data

    def read(self, window):
        return self.data[
            (slice(None),) + tuple(slice(w.start - r.start, w.stop - r.start) for w, r in zip(window, self.region))
        ]


def _halo(predictor, spatial, region):
    """The input region that the windows overlapping `region` read."""
    window, starts = predictor.grid(spatial)
    bounds = [(r.start, r.stop) for r in region]
    starts = [s for s in starts if all(a < b1 and a + w > b0 for a, w, (b0, b1) in zip(s, window, bounds))]
    return tuple(slice(min(s[a] for s in starts), max(s[a] for s in starts) + window[a]) for a in range(3))


def quantize(data, dtype):
    """Output values in the stored dtype: uint8 maps [0, 1] to 0..255 (rounded)."""
    if dtype == "uint8":
        return (np.clip(data, 0, 1) * 255 + 0.5).astype(np.uint8)
    return data.astype(dtype)


class Outputs:
    """The output datasets of a prediction in one zarr or HDF5 file, and the done-markers of its chunks.

    `path` is ``FILE[:DATASET]`` (default dataset 'prediction'); with uncertainty, DATASET_variance and
    DATASET_entropy are written beside it.
    """

    def __init__(self, path, shapes, chunk, dtype):
        file, name = split_dataset(path)
        self.file, self.name = Path(file), name or "prediction"
        self.zarr = self.file.suffix.lower() in ZARR_SUFFIXES
        self.chunk, self.dtype = tuple(chunk), dtype
        self.shapes = {self._key(kind): shape for kind, shape in shapes.items()}
        self.markers = self.file.with_name(self.file.name + ".pytc-done") / self.name

    def _key(self, kind):
        return self.name if kind == "mean" else f"{self.name}_{kind}"

    def create(self):
        """Creates the datasets (or checks that those of an earlier run match) and the marker folder."""
        self.markers.mkdir(parents=True, exist_ok=True)
        for key, shape in self.shapes.items():
            dtype = self.dtype if key == self.name else "float32"
            array = self._open(key, shape, dtype)
            if tuple(array.shape) != shape or np.dtype(array.dtype) != np.dtype(dtype):
                raise ValueError(
                    f"predict: {self.file}:{key} exists with shape {tuple(array.shape)} and dtype "
                    f"{array.dtype}; this prediction needs {shape} {dtype}: choose another "
                    f"output"
                )

    def _open(self, key, shape, dtype):
        chunks = (shape[0],) + tuple(min(c, n) for c, n in zip(self.chunk, shape[1:]))
        if self.zarr:
            return create_zarr_array(self.file, key, shape, dtype, chunks)
        import h5py

        with h5py.File(self.file, "a") as f:
            if key not in f:
                f.create_dataset(key, shape=shape, chunks=chunks, dtype=dtype)
            return _Meta(f[key].shape, f[key].dtype)

    def marker(self, region):
        return self.markers / "_".join(str(r.start) for r in region)

    def done(self, region):
        return self.marker(region).exists()

    def write(self, region, result):
        """Writes every dataset's part for `region`, then marks it done."""
        if self.zarr:
            import zarr

            group = zarr.open_group(str(self.file), mode="a")
            for kind, data in result.items():
                group[self._key(kind)][(slice(None),) + region] = data
        else:
            import h5py

            with h5py.File(self.file, "a") as f:
                for kind, data in result.items():
                    f[self._key(kind)][(slice(None),) + region] = data
                f.flush()
        self.marker(region).touch()


class _Meta:
    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype


def predict_chunks(predictor, source, outputs, regions, activations=None, progress=None):
    """Predicts and writes `regions` (skipping those marked done), reading ahead and writing behind."""
    todo = [r for r in regions if not outputs.done(r)]

    def read(region):
        halo = _halo(predictor, source.spatial, region)
        return _Buffered(source, halo, source.read(halo))

    def finish(region, result):
        stored = {"mean": quantize(result["mean"], outputs.dtype)}
        if "variance" in result:
            stored["variance"] = result["variance"]
            if probability_tasks(activations):
                stored["entropy"] = entropy(result["mean"], activations)
        outputs.write(region, stored)

    with ThreadPoolExecutor(1) as reader, ThreadPoolExecutor(1) as writer:
        pending_read = reader.submit(read, todo[0]) if todo else None
        pending_write = None
        for i, region in enumerate(todo):
            buffered = pending_read.result()
            pending_read = reader.submit(read, todo[i + 1]) if i + 1 < len(todo) else None
            result = predictor.predict_region(buffered, region)
            if pending_write is not None:
                pending_write.result()  # at most one chunk waits to be written
            pending_write = writer.submit(finish, region, result)
            if progress is not None:
                progress(i + 1, len(todo))
        if pending_write is not None:
            pending_write.result()
    return len(todo)


def output_shapes(channels, spatial, activations, uncertainty):
    shapes = {"mean": (channels,) + tuple(spatial)}
    if uncertainty:
        shapes["variance"] = shapes["mean"]
        if probability_tasks(activations):
            shapes["entropy"] = (probability_tasks(activations),) + tuple(spatial)
    return shapes


def default_chunk(window, spatial):
    """Four windows along each axis (at most the volume): windows straddling chunk faces are computed for
    each chunk they touch, so larger chunks recompute less."""
    return tuple(min(n, 4 * w) for w, n in zip(window, spatial))


def predict_volume(
    predictor, source, output, chunk, *, channels, activations=None, dtype="float32", rank=0, world=1, progress=None
):
    """Predicts `source` chunk by chunk into `output` (``FILE.zarr[:DATASET]`` or ``FILE.h5[:DATASET]``).

    With `world` > 1 this process (of rank `rank`) takes every world-th chunk; the datasets must already exist
    (rank 0 or the caller creates them with ``Outputs(...).create()``). Returns the number of chunks predicted.
    """
    if dtype not in DTYPES:
        raise ValueError(f"predict: `dtype` must be one of {DTYPES}; got {dtype!r}")
    outputs = Outputs(output, output_shapes(channels, source.spatial, activations, predictor.uncertainty), chunk, dtype)
    if world == 1:
        outputs.create()
    regions = chunk_regions(source.spatial, chunk)[rank::world]
    return predict_chunks(predictor, source, outputs, regions, activations, progress)
