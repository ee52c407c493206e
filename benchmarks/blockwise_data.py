"""Synthetic affinity volumes of any size, generated block by block (for the blockwise benchmarks).

Every voxel's value is a function of its global coordinates and the seed only, so a volume written block by block
(in any order, by any number of processes) is the same as one made whole, and no block needs more than its own
voxels plus one plane before it.

The segmentation is a jittered-grid Voronoi partition: one seed point per cell of `cell` voxels, placed at random
(hashed from the cell's coordinates) in the middle half of its cell; a voxel takes the nearest of the 8 points of
the cells on its side of its own cell's centre along each axis (an approximation of the true Voronoi partition that
needs no neighbouring block). Affinities: for an edge whose two voxels have the same label, a ramp from 0 at the
segment boundary to 1 at `ramp` voxels from it (the distance to the boundary estimated from the distances to the
nearest and second nearest points); 0 across segments; plus smooth noise (trilinear interpolation of hashed random
values on a lattice of `noise_spacing` voxels, the same for the three channels), clipped to [0, 1]. The noise's local maxima
give the watershed many basins per segment to find and the agglomeration many fragments to merge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_MIX = np.uint64(0x9E3779B97F4A7C15)


def _hash(*coordinates: np.ndarray, salt: int) -> np.ndarray:
    """Uniform floats in [0, 1) from integer coordinates (broadcast), by a splitmix64-style mix."""
    with np.errstate(over="ignore"):
        h = np.uint64(salt) * _MIX + np.uint64(0x632BE59BD9B4E019)
        for c in coordinates:
            h = (h ^ np.asarray(c).astype(np.uint64)) * _MIX
            h = h ^ (h >> np.uint64(31))
            h = h * np.uint64(0xBF58476D1CE4E5B9)
            h = h ^ (h >> np.uint64(29))
    return (h >> np.uint64(11)).astype(np.float64) / float(2**53)


@dataclass(frozen=True)
class SyntheticVolume:
    """The synthetic segmentation and affinities of a volume of `shape` (see the module's docstring)."""

    shape: tuple[int, int, int]
    cell: int = 48  # seed spacing: segments of about cell**3 voxels
    ramp: float = 3.0  # voxels over which affinities rise from the boundary
    noise_spacing: int = 16
    noise: float = 0.3
    seed: int = 0
    coarse: int = 4  # the labels are computed on a grid of coarse^3 voxels

    def _grid_cells(self) -> tuple[int, int, int]:
        return tuple(math.ceil(s / self.cell) + 2 for s in self.shape)

    def _points(self, cz, cy, cx):
        """Seed point coordinates (float, 3 arrays) of cells (cz, cy, cx) (broadcast)."""
        c = self.cell
        return tuple(
            (cell + 0.25 + 0.5 * _hash(cz, cy, cx, salt=self.seed * 8 + axis)) * c
            for axis, cell in enumerate((cz, cy, cx))
        )

    def _nearest(self, start, stop):
        """Labels (uint64) and distance to the segment boundary (float32) of voxels [start, stop).

        Computed on a grid of `coarse`^3 voxels (aligned to the volume's origin), so segment faces step by
        `coarse` voxels.
        """
        f = self.coarse
        coarse_start = [a // f for a in start]
        coarse_stop = [-(-b // f) for b in stop]
        label, distance = self._nearest_coarse(coarse_start, coarse_stop)
        crop = tuple(slice(a - f * c, a - f * c + b - a) for a, b, c in zip(start, stop, coarse_start))
        up = (slice(None), None, slice(None), None, slice(None), None)
        shape = tuple(f * s for s in label.shape)
        label = np.broadcast_to(label[up], (label.shape[0], f, label.shape[1], f, label.shape[2], f))
        distance = np.broadcast_to(distance[up], label.shape)
        return label.reshape(shape)[crop], f * distance.reshape(shape)[crop]

    def _nearest_coarse(self, start, stop):
        c = self.cell / self.coarse
        coords = [np.arange(a, b) + 0.5 for a, b in zip(start, stop)]  # coarse voxel centres, in coarse units
        own = [np.floor(x / c).astype(np.int64) for x in coords]
        other = [o + np.where(x - o * c >= c / 2, 1, -1) for x, o in zip(coords, own)]
        lo = [min(o.min(), t.min()) for o, t in zip(own, other)]
        hi = [max(o.max(), t.max()) + 1 for o, t in zip(own, other)]
        cz, cy, cx = np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi)], indexing="ij")
        points = [(p / self.coarse).astype(np.float32) for p in self._points(cz, cy, cx)]
        grid = self._grid_cells()
        cell_ids = ((cz + 1) * grid[1] + (cy + 1)) * grid[2] + (cx + 1) + 1
        shape = tuple(b - a for a, b in zip(start, stop))
        best = np.full(shape, np.inf, dtype=np.float32)
        second = np.full(shape, np.inf, dtype=np.float32)
        choice_of = np.zeros(shape, dtype=np.uint8)
        indices = []
        for k, choice in enumerate(np.ndindex(2, 2, 2)):
            index = np.ix_(*[(o if s == 0 else t) - a for o, t, s, a in zip(own, other, choice, lo)])
            indices.append(index)
            d2 = np.zeros(shape, dtype=np.float32)
            for axis, x in enumerate(coords):
                view = [None, None, None]
                view[axis] = slice(None)
                d2 += np.square(x[tuple(view)].astype(np.float32) - points[axis][index])
            closer = d2 < best
            np.minimum(second, d2, out=second)
            second[closer] = best[closer]
            best[closer] = d2[closer]
            choice_of[closer] = k
        label = np.zeros(shape, dtype=np.uint64)
        for k, index in enumerate(indices):
            where = choice_of == k
            label[where] = np.broadcast_to(cell_ids[index], shape)[where]
        distance = (np.sqrt(second) - np.sqrt(best)) / 2
        return label, distance

    def segmentation(self, start: Sequence[int], stop: Sequence[int]) -> np.ndarray:
        """The ground-truth labels (uint64, no background) of voxels [start, stop)."""
        return self._nearest(start, stop)[0]

    def _noise(self, channel, start, stop):
        """Smooth noise in [-1, 1] of voxels [start, stop): hashed lattice values, trilinear interpolation."""
        s = self.noise_spacing
        weights = []
        nodes = []
        for a, b in zip(start, stop):
            x = np.arange(a, b) / s
            first = int(np.floor(x[0]))
            node = np.arange(first, int(np.floor(x[-1])) + 2)
            w = np.zeros((b - a, len(node)), dtype=np.float32)
            i = np.floor(x).astype(np.int64) - first
            f = (x - np.floor(x)).astype(np.float32)
            w[np.arange(b - a), i] = 1 - f
            w[np.arange(b - a), i + 1] += f
            weights.append(w)
            nodes.append(node)
        values = 2 * _hash(*np.meshgrid(*nodes, indexing="ij"), salt=1000 + self.seed * 8 + channel) - 1
        values = values.astype(np.float32)
        out = np.einsum("zi,ijk->zjk", weights[0], values)
        out = np.einsum("yj,zjk->zyk", weights[1], out)
        return np.einsum("xk,zyk->zyx", weights[2], out)

    def affinities(self, start: Sequence[int], stop: Sequence[int], dtype=np.float32) -> np.ndarray:
        """Affinities (3, Z, Y, X) of voxels [start, stop): channel d links v and v - e_d; float32 or uint8."""
        grown = tuple(a - 1 for a in start)
        label, distance = self._nearest(grown, stop)
        out = np.empty((3, *(b - a for a, b in zip(start, stop))), dtype=np.float32)
        inner = (slice(1, None),) * 3
        noise = self._noise(0, start, stop)  # one field for the three channels
        for d in range(3):
            before = [slice(1, None)] * 3
            before[d] = slice(0, -1)
            before = tuple(before)
            same = label[inner] == label[before]
            ramp = np.minimum(np.minimum(distance[inner], distance[before]) / self.ramp, 1)
            value = np.where(same, ramp, 0) * (1 - self.noise) + self.noise * noise
            if start[d] == 0:  # edges leaving the volume: 0, as seg_to_affinity's
                value[(slice(None),) * d + (0,)] = 0
            out[d] = np.clip(value, 0, 1)
        if np.dtype(dtype) == np.uint8:
            return np.rint(out * 255).astype(np.uint8)
        if np.dtype(dtype) != np.float32:
            raise ValueError(f"affinities: `dtype` must be float32 or uint8; got {np.dtype(dtype)}")
        return out


def write_affinities(
    path: str,
    volume: SyntheticVolume,
    dtype=np.uint8,
    chunk: int = 128,
    processes: int = 1,
    progress: bool = True,
) -> str:
    """Writes ``volume``'s affinities as the array ``affinities`` of the zarr group `path`, chunked (3, chunk,
    chunk, chunk), block by block in `processes` processes; returns ``PATH:affinities``."""
    import itertools

    import zarr

    shape = volume.shape
    group = zarr.open_group(path, mode="a")
    group.create_array(
        "affinities", shape=(3, *shape), dtype=dtype, chunks=(3, chunk, chunk, chunk), fill_value=0, overwrite=True
    )
    jobs = []
    for start in itertools.product(*[range(0, s, chunk) for s in shape]):
        stop = tuple(min(a + chunk, s) for a, s in zip(start, shape))
        jobs.append((path, volume, np.dtype(dtype).str, start, stop))
    if processes > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(processes) as pool:
            done = pool.map(_write_block, jobs)
            _drain(done, len(jobs), progress)
    else:
        _drain(map(_write_block, jobs), len(jobs), progress)
    group.attrs["complete"] = True
    return f"{path}:affinities"


def _drain(results, total, progress):
    if progress:
        from tqdm.auto import tqdm

        results = tqdm(results, total=total, desc="affinities", unit="block")
    for _ in results:
        pass


def _write_block(job):
    import zarr

    path, volume, dtype, start, stop = job
    data = volume.affinities(start, stop, np.dtype(dtype))
    zarr.open_group(path, mode="r+")["affinities"][(slice(None), *(slice(a, b) for a, b in zip(start, stop)))] = data


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description="Writes a synthetic affinity volume (zarr) block by block.")
    parser.add_argument("path", help="zarr group to write (array 'affinities')")
    parser.add_argument("--size", type=int, default=1024, help="edge of the cubic volume")
    parser.add_argument("--dtype", default="uint8", choices=["uint8", "float32"])
    parser.add_argument("--chunk", type=int, default=128)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    volume = SyntheticVolume((args.size,) * 3, seed=args.seed)
    print(write_affinities(args.path, volume, np.dtype(args.dtype), args.chunk, args.processes))


def whole_affinities(volume: SyntheticVolume, dtype=np.float32) -> np.ndarray:
    """The whole volume's affinities in memory (small volumes)."""
    return volume.affinities((0, 0, 0), volume.shape, dtype)


if __name__ == "__main__":
    main()
