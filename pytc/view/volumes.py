"""What the viewer shows: volume specs, the kind of layer each becomes, and region reads in a dtype Neuroglancer
takes. Nothing here needs Neuroglancer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.io import HDF5_SUFFIXES, ZARR_SUFFIXES, open_volume, split_dataset
from ..validation import fail

KINDS = ("image", "seg", "aff", "prob")
MESH_VOXELS = 256 * 2**20  # the largest segmentation meshed in the 3D view (it is read whole for that)
# Names that say what a volume holds, when its dtype and shape leave it open.
_SEG_NAMES = re.compile(r"seg|label|gt|ids|instance|neuron|mito", re.IGNORECASE)
_IMAGE_NAMES = re.compile(r"image|raw|^em$|img|intensit", re.IGNORECASE)
_UNCERTAINTY_NAMES = re.compile(r"variance|entropy|uncertain|prob|boundar|mask", re.IGNORECASE)
_AFFINITY_NAMES = re.compile(r"aff", re.IGNORECASE)


@dataclass
class VolumeSpec:
    """One volume to show: ``PATH[:DATASET][:KIND]`` parsed, with the layer name."""

    path: str
    dataset: str | None = None
    kind: str | None = None  # one of KINDS; None: guessed from dtype, shape and name
    name: str | None = None

    @classmethod
    def parse(cls, text: str) -> VolumeSpec:
        """``PATH[:DATASET][:KIND]`` -> VolumeSpec. In an HDF5 file or zarr store, as everywhere in pytc,
        ``FILE:NAME`` names a dataset, so a kind follows the dataset (``FILE:DATASET:KIND``), or an empty one for
        the file's only dataset (``FILE::KIND``); other paths take the kind directly (``pred.npy:prob``).

        Examples
        --------
        >>> VolumeSpec.parse("pred.zarr:affinities:aff")
        VolumeSpec(path='pred.zarr', dataset='affinities', kind='aff', name=None)
        >>> VolumeSpec.parse("train.h5:image")
        VolumeSpec(path='train.h5', dataset='image', kind=None, name=None)
        >>> VolumeSpec.parse("stack/*.png:seg")
        VolumeSpec(path='stack/*.png', dataset=None, kind='seg', name=None)
        """
        text = str(text)
        head, sep, tail = text.rpartition(":")
        if sep and tail in KINDS:
            path, dataset = split_dataset(head)
            is_container = Path(path).suffix.lower() in HDF5_SUFFIXES + ZARR_SUFFIXES
            if not is_container or dataset is not None or head.endswith(":"):
                return cls(path, dataset, tail)
        path, dataset = split_dataset(text)
        return cls(path, dataset)

    @property
    def label(self) -> str:
        """How the volume is named in messages and, by default, as a layer."""
        if self.name:
            return self.name
        return self.dataset.strip("/") if self.dataset else Path(self.path).stem

    def __str__(self) -> str:
        return self.path + (f":{self.dataset}" if self.dataset else "") + (f":{self.kind}" if self.kind else "")


def guess_kind(shape: tuple[int, ...], dtype: Any, name: str) -> str:
    """The layer kind of a volume from its dtype, shape and name (dataset or file name).

    uint8 (Z, Y, X) is an image; other integers are segmentations (uint16 and int16 only when the name says so,
    e.g. 'seg', 'label', 'gt'); floats with channels are affinities when there are 3 or more (or the name says
    'aff'), else probabilities; a float (Z, Y, X) is an image when the name says so ('image', 'raw'), else a
    probability map. Variance and entropy maps are probabilities (heat maps).
    """
    dtype = np.dtype(dtype)
    has_channels = len(shape) == 4
    if dtype == np.bool_:
        return "seg"
    if _UNCERTAINTY_NAMES.search(name) and not _AFFINITY_NAMES.search(name) and dtype.kind == "f":
        return "prob"
    if has_channels:
        if _AFFINITY_NAMES.search(name) or shape[0] >= 3:
            return "aff"
        return "prob"
    if dtype == np.uint8:
        return "image"
    if dtype.kind in "iu":
        if dtype.itemsize == 2 and not _SEG_NAMES.search(name):
            return "image"
        return "seg"
    return "image" if _IMAGE_NAMES.search(name) else "prob"


def _layer_dtype(dtype, kind):
    """The dtype the viewer serves a volume in (Neuroglancer has no float16, float64 or bool; ids are
    unsigned)."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return np.dtype(np.uint8)
    if dtype.kind == "f":
        return np.dtype(np.float32)
    if kind == "seg" and dtype.kind == "i":
        return np.dtype(np.uint64 if dtype.itemsize == 8 else np.uint32)
    return dtype


class Region:
    """An array-like view of a volume, read by region in the viewer's layout: (Z, Y, X), or (C, Z, Y, X) for
    layers with channels (affinities keep their first three). A 2D volume gets a z axis of one section.

    Only what is indexed is read, so volumes larger than memory can be shown. `reads` counts the voxels read.
    """

    def __init__(self, volume: Any, kind: str, name: str = "volume"):
        shape = tuple(int(n) for n in volume.shape)
        if len(shape) not in (2, 3, 4):
            raise fail("view", "volume", f"a 2D, 3D or (C, Z, Y, X) array ({name})", f"shape {shape}")
        if kind in ("image", "seg") and len(shape) == 4:
            raise fail("view", "volume", f"(Z, Y, X) for a {kind} layer ({name}); channels are for aff or prob", shape)
        self.volume, self.kind, self.name = volume, kind, name
        self.squeeze_z = len(shape) == 2
        if self.squeeze_z:
            shape = (1, *shape)
        if kind == "aff" and len(shape) == 4:
            shape = (min(shape[0], 3), *shape[1:])
        self.shape = shape
        self.dtype = _layer_dtype(volume.dtype, kind)
        self.resolution = resolution_of(volume)
        self.reads = 0

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def channels(self) -> int:
        """Channels served (0 for a layer without)."""
        return self.shape[0] if len(self.shape) == 4 else 0

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        key = tuple(key) + (slice(None),) * (len(self.shape) - len(key))
        bounded = tuple(slice(*k.indices(n)) for k, n in zip(key, self.shape))
        if self.squeeze_z:
            z = bounded[0]
            data = np.asarray(self.volume[bounded[1:]])[None][z]
        else:
            data = np.asarray(self.volume[bounded])
        self.reads += data.size
        return np.asarray(data, dtype=self.dtype)

    def transpose(self) -> np.ndarray:
        """The whole volume in (X, Y, Z) order, which Neuroglancer reads to build meshes of a segmentation in
        its 3D view; only for volumes up to `MESH_VOXELS` (larger ones show no meshes)."""
        if self.size > MESH_VOXELS:
            from neuroglancer.local_volume import MeshesNotSupportedForVolume

            raise MeshesNotSupportedForVolume()
        return np.asarray(self).transpose()

    def __array__(self, dtype=None, copy=None):
        data = self[tuple(slice(None) for _ in self.shape)]
        return data if dtype is None else data.astype(dtype)


def open_region(spec: VolumeSpec) -> Region:
    """The `Region` of `spec`, opened lazily with `pytc.data.open_volume` (its kind guessed when not given).

    Raises what `open_volume` raises for a bad path or dataset: FileNotFoundError, KeyError, ValueError, or
    `VolumeReadError`, each naming the path.
    """
    volume = open_volume(spec.path, spec.dataset)
    name = spec.dataset or Path(spec.path).name
    kind = spec.kind or guess_kind(tuple(volume.shape), volume.dtype, name)
    return Region(volume, kind, spec.label)


def resolution_of(volume: Any) -> tuple[float, float, float] | None:
    """The (Z, Y, X) voxel size in nm that an HDF5 or zarr volume records in its `resolution` attribute, if any."""
    attrs = getattr(volume, "attrs", None)
    if attrs is None or "resolution" not in attrs:
        return None
    value = np.asarray(attrs["resolution"], dtype=np.float64).ravel()
    return tuple(float(v) for v in value) if value.size == 3 and (value > 0).all() else None
