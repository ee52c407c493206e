"""Volumes for the viewer tests, made from the gala sample that ships with pytc (no PYTC_DATA needed)."""

import h5py
import numpy as np
import pytest

from pytc.kernels import seg_to_affinity
from pytc.train.run import SAMPLE_DIR

SAMPLE = SAMPLE_DIR / "gala_fibsem_mini.h5"


@pytest.fixture(scope="session")
def volumes(tmp_path_factory):
    """An HDF5 file with a (20, 100, 160) crop of the gala test volume: `image` (uint8), `seg` (int32 ids),
    `aff` (3 affinity channels of `seg`, float32), `prob` (the shipped boundary map, float32), `section` (a 2D
    image); its `resolution` attribute says (30, 6, 6) nm."""
    path = tmp_path_factory.mktemp("view") / "sample.h5"
    crop = (slice(15, 35), slice(0, 100), slice(20, 180))
    with h5py.File(SAMPLE, "r") as f:
        image, seg, prob = (f[f"test/{name}"][crop] for name in ("image", "gt", "p1"))
    with h5py.File(path, "w") as f:
        f.create_dataset("image", data=image, chunks=(4, 32, 32))
        f.create_dataset("seg", data=seg, chunks=(4, 32, 32))
        f.create_dataset("aff", data=seg_to_affinity(seg.astype(np.uint32)).astype(np.float32))
        f.create_dataset("prob", data=prob)
        f.create_dataset("section", data=image[10])
        f["image"].attrs["resolution"] = (30, 6, 6)
    return path
