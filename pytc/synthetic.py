"""Synthetic volumes for demos, tests and benchmarks."""

import numpy as np
from scipy import ndimage


def random_segmentation(shape, n_segments=200, *, boundary=True, anisotropy=1.0, seed=0, dtype=np.uint32):
    """A random Voronoi segmentation, with 0-valued boundaries between segments like EM ground truth.

    Parameters
    ----------
    shape : tuple of int
        2D or 3D shape.
    n_segments : int
        Number of seed points (segment ids 1..n_segments; a few may vanish under the boundaries).
    boundary : bool
        Set to 0 the voxels whose next voxel along any axis has another id (one-voxel membranes).
    anisotropy : float
        Distance scale of the first axis (e.g. 5 for 30 nm sections at 6 nm pixels): larger values
        give segments that extend further along z, like neurites in anisotropic EM.
    seed : int
        Seed of the random generator.
    """
    rng = np.random.default_rng(seed)
    seeds = np.ones(shape, dtype=bool)
    points = tuple(rng.integers(0, n, n_segments) for n in shape)
    seeds[points] = False
    sampling = (anisotropy,) + (1.0,) * (len(shape) - 1)
    nearest = ndimage.distance_transform_edt(seeds, sampling=sampling, return_distances=False, return_indices=True)
    ids = np.zeros(shape, dtype=dtype)
    ids[points] = np.arange(1, n_segments + 1, dtype=dtype)
    seg = ids[tuple(nearest)]
    if boundary:
        edge = np.zeros(shape, dtype=bool)
        for axis in range(len(shape)):
            here = [slice(None)] * len(shape)
            here[axis] = slice(0, -1)
            there = [slice(None)] * len(shape)
            there[axis] = slice(1, None)
            edge[tuple(here)] |= seg[tuple(here)] != seg[tuple(there)]
        seg[edge] = 0
    return seg
