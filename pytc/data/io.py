"""Reading and writing EM volumes.

Formats, chosen by the path:
  HDF5 (.h5, .hdf5, .hdf)      a named dataset, or the only one in the file
  zarr (.zarr, .zr, or a folder holding zarr metadata)
  TIFF stack (.tif, .tiff)     one file, read as stored (a 2D page stays 2D: it round-trips)
  NumPy (.npy)
  image slices                 a folder of PNG/TIFF files, or a glob such as "raw/*.png", sorted
                               naturally (2 before 10): one file per z-section
  one image (.png, .jpg, .jpeg)  one section, (1, Y, X), as a folder holding only that file reads
  tiles (.json)                a large volume stored as tiles, see `TiledVolume`

`open_volume` returns an array-like read lazily by region (``vol[z0:z1, y0:y1, x0:x1]``) for HDF5, zarr,
.npy (memory-mapped), slice folders (only the sections asked for are read) and tiles, so training never
loads a whole large volume. `read_volume` reads everything into memory.

A file that exists but cannot be read (truncated, corrupt, or not the format its name says) raises
`VolumeReadError`, which names the file and dataset and chains the library's own exception.
"""

import contextlib
import difflib
import glob
import json
import os
import re
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")
TIFF_SUFFIXES = (".tif", ".tiff")
ZARR_SUFFIXES = (".zarr", ".zr")
IMAGE_SUFFIXES = (".png",) + TIFF_SUFFIXES  # slices in a folder or glob
SINGLE_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")  # one file read as one section
FORMATS = (
    "HDF5 (.h5/.hdf5/.hdf), zarr (.zarr), TIFF (.tif/.tiff), .npy, .json tiles, a PNG/JPEG image, "
    "or a folder/glob of PNG/TIFF slices"
)
WRITE_FORMATS = (
    "HDF5 (.h5/.hdf5/.hdf), zarr (.zarr/.zr), TIFF (.tif/.tiff), .npy, "
    "or a folder of PNG slices (a path without suffix)"
)
# What h5py, zarr, numpy, tifffile and pillow raise for a file they cannot parse.
_LIBRARY_ERRORS = (OSError, ValueError, EOFError, RuntimeError, KeyError, IndexError, struct.error)


class VolumeReadError(OSError, ValueError):
    """A volume file exists but cannot be read: truncated, corrupt, or not the format its name says.

    The message names the file (and dataset); the library's exception is chained as ``__cause__``. Both an
    OSError and a ValueError, as `io.UnsupportedOperation` is, so code that caught what h5py (OSError) or
    numpy and tifffile (ValueError) raise still catches it.
    """


@contextlib.contextmanager
def _reading(fn, path, dataset=None):
    """Turns what a format library raises while reading `path` into a `VolumeReadError` that names the file.

    Errors from the operating system (an OSError with an errno: no permission, a missing file) already name
    the file and pass through unchanged, as does a `VolumeReadError` raised further down.
    """
    try:
        yield
    except VolumeReadError:
        raise
    except _LIBRARY_ERRORS as e:
        if isinstance(e, OSError) and e.errno is not None:
            raise
        what = f"dataset {dataset!r} of {path}" if dataset else str(path)
        raise VolumeReadError(
            f"{fn}: cannot read {what}; it may be truncated, corrupt or not the format its name "
            f"says ({type(e).__name__}: {e})"
        ) from e


def natural_key(path: str | os.PathLike) -> list:
    """Sort key that orders numbers by value: 'slice2.png' before 'slice10.png'."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


def hdf5_datasets(group: Any, prefix: str = "") -> list[str]:
    """The paths of every dataset in an open HDF5 file or group, depth first."""
    import h5py

    names = []
    for key, item in group.items():
        if isinstance(item, h5py.Dataset):
            names.append(prefix + key)
        elif isinstance(item, h5py.Group):
            names += hdf5_datasets(item, prefix + key + "/")
    return names


def zarr_arrays(group: Any, prefix: str = "") -> list[str]:
    """The paths of every array in an open zarr group, sorted."""
    names = [prefix + name for name, _ in group.arrays()]
    for name, subgroup in group.groups():
        names += zarr_arrays(subgroup, prefix + name + "/")
    return sorted(names)


def _pick_dataset(path, dataset, names):
    """`dataset` (or the only one of `names`, the datasets in the file at `path`), checked against `names`."""
    if dataset is None:
        if len(names) == 1:
            return names[0]
        raise ValueError(f"open_volume: `dataset` must name one of the datasets in {path}; found {names or 'none'}")
    if str(dataset).strip("/") not in names:
        raise KeyError(f"open_volume: dataset {dataset!r} not in {path}; found {names or 'none'}")
    return str(dataset).strip("/")


def _is_zarr(path):
    return path.suffix.lower() in ZARR_SUFFIXES or (
        path.is_dir() and any((path / name).exists() for name in (".zarray", ".zgroup", "zarr.json"))
    )


def _read_image(path):
    with _reading("open_volume", path):
        if Path(path).suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            return tifffile.imread(path)
        from PIL import Image

        with Image.open(path) as image:
            return np.asarray(image)


class SliceStack:
    """A (Z, Y, X) volume stored as one image file per section, read lazily section by section."""

    def __init__(self, files):
        self.files = list(files)
        first = _read_image(self.files[0])
        self.shape = (len(self.files),) + first.shape
        self.dtype = first.dtype
        self.ndim = len(self.shape)

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        sections = range(len(self.files))[key[0]] if key else range(len(self.files))
        rest = key[1:]
        if isinstance(sections, int):
            return _read_image(self.files[sections])[rest]
        out = np.stack([_read_image(self.files[z])[rest] for z in sections]) if len(sections) else None
        return out if out is not None else np.zeros((0,) + np.empty(self.shape[1:])[rest].shape, self.dtype)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[:], dtype=dtype)

    def __len__(self):
        return self.shape[0]


class TiledVolume:
    """A large volume stored as tiles, described by a JSON file::

        {"shape": [Z, Y, X], "dtype": "uint8",
         "tiles": [{"path": "tiles/0_0_0.h5", "offset": [0, 0, 0]}, ...]}

    Tile paths are relative to the JSON file; each tile is any format `read_volume` reads (dataset name
    in "dataset" if HDF5). Reading a region reads only the tiles it overlaps; voxels no tile covers
    read as 0.
    """

    def __init__(self, description, root="."):
        try:
            self.shape = tuple(int(s) for s in description["shape"])
            self.dtype = np.dtype(description["dtype"])
            tiles = description["tiles"]
        except (KeyError, TypeError) as e:
            raise ValueError(f"TiledVolume: the description needs 'shape', 'dtype' and 'tiles'; missing {e}") from e
        self.ndim = len(self.shape)
        self.dataset = description.get("dataset")
        self.tiles = []
        for tile in tiles:
            volume = open_volume(Path(root) / tile["path"], self.dataset)
            offset = tuple(int(o) for o in tile["offset"])
            if len(offset) != self.ndim or len(volume.shape) != self.ndim:
                raise ValueError(
                    f"TiledVolume: tile {tile['path']} has offset {offset} and shape {volume.shape}; "
                    f"expected {self.ndim} dimensions"
                )
            self.tiles.append((offset, volume))

    @classmethod
    def from_json(cls, path):
        path = Path(path)
        with _reading("TiledVolume", path), open(path) as f:
            description = json.load(f)
        return cls(description, root=path.parent)

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (self.ndim - len(key))
        bounds = []
        for k, n in zip(key, self.shape):
            if not isinstance(k, slice) or k.step not in (None, 1):
                raise IndexError("TiledVolume: only contiguous slices are supported, e.g. vol[0:8, 100:228, 0:128]")
            bounds.append(k.indices(n)[:2])
        out = np.zeros(tuple(max(0, b - a) for a, b in bounds), self.dtype)
        for offset, volume in self.tiles:
            lo = [max(a, o) for (a, _), o in zip(bounds, offset)]
            hi = [min(b, o + s) for (_, b), o, s in zip(bounds, offset, volume.shape)]
            if all(l < h for l, h in zip(lo, hi)):
                src = tuple(slice(l - o, h - o) for l, h, o in zip(lo, hi, offset))
                dst = tuple(slice(l - a, h - a) for l, h, (a, _) in zip(lo, hi, bounds))
                out[dst] = volume[src]
        return out

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[:], dtype=dtype)


def _slice_files(path):
    pattern = str(path)
    if any(c in pattern for c in "*?["):
        files = glob.glob(pattern)
    else:
        files = [str(p) for p in Path(path).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    files = sorted((f for f in files if Path(f).suffix.lower() in IMAGE_SUFFIXES), key=natural_key)
    if not files and Path(path).is_dir():
        raise FileNotFoundError(f"open_volume: no PNG/TIFF slices in the folder {path}; it holds {_contents(path)}")
    if not files:
        raise FileNotFoundError(f"open_volume: no PNG/TIFF slices match {path}")
    return files


def _contents(folder):
    """What `folder` holds, counted by suffix, e.g. '12 .jpg, 2 folders, 1 .txt' (never a listing)."""
    counts = {}
    for entry in os.scandir(folder):
        kind = "folder" if entry.is_dir() else Path(entry.name).suffix.lower() or "file without suffix"
        counts[kind] = counts.get(kind, 0) + 1
    common = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    text = ", ".join(f"{n} {kind}{'s' * (n > 1 and not kind.startswith('.'))}" for kind, n in common[:5])
    text += ", ..." if len(common) > 5 else ""
    return text or "nothing"


def _not_found(path):
    """The FileNotFoundError for `path`: it names the path and suggests similar names in its folder, if any."""
    file, dataset = split_dataset(path)
    if dataset is not None and Path(file).is_file():
        return FileNotFoundError(
            f"open_volume: `path` does not exist: {path}; to read dataset {dataset!r} of "
            f"{file}, pass it as `dataset` (`split_dataset` splits such strings)"
        )
    parent = path.parent
    if not parent.is_dir():
        return FileNotFoundError(f"open_volume: `path` does not exist: {path} (nor does its folder)")
    try:
        near = difflib.get_close_matches(path.name, os.listdir(parent), n=3)
    except OSError:  # an unreadable folder: no suggestions
        near = []
    hint = f"; did you mean {' or '.join([', '.join(near[:-1]), near[-1]] if near[1:] else near)}?" if near else ""
    return FileNotFoundError(f"open_volume: `path` does not exist: {path}{hint}")


def split_dataset(spec: str | os.PathLike) -> tuple[str, str | None]:
    """``"PATH[:DATASET]"`` -> (path, dataset or None), as command lines and configs write volumes.

    The dataset part follows the last ':' after an HDF5 or zarr file name, e.g. ``"train.h5:raw"``,
    ``"vol.zarr:s0/raw"``; any other string is a path.

    Examples
    --------
    >>> split_dataset("data/train.h5:volumes/raw")
    ('data/train.h5', 'volumes/raw')
    >>> split_dataset("stack/*.png")
    ('stack/*.png', None)
    """
    text = str(spec)
    for i in range(len(text) - 1, 0, -1):
        if text[i] == ":" and Path(text[:i]).suffix.lower() in HDF5_SUFFIXES + ZARR_SUFFIXES:
            return text[:i], text[i + 1 :] or None
    return text, None


def _open_hdf5(path, dataset):
    import h5py

    with _reading("open_volume", path, dataset):
        f = h5py.File(path, "r")
    try:
        with _reading("open_volume", path, dataset):
            names = hdf5_datasets(f)
        dataset = _pick_dataset(path, dataset, names)
        with _reading("open_volume", path, dataset):
            return f[dataset]
    except BaseException:
        f.close()
        raise


def _open_zarr(path, dataset):
    import zarr

    with _reading("open_volume", path, dataset):
        node = zarr.open(str(path), mode="r")
        names = None if hasattr(node, "shape") else zarr_arrays(node)
    if names is None:  # the store is one array
        if dataset is not None:
            raise KeyError(
                f"open_volume: dataset {dataset!r} not in {path}, which is one array; read it without `dataset`"
            )
        return node
    dataset = _pick_dataset(path, dataset, names)
    with _reading("open_volume", path, dataset):
        return node[dataset]


def open_volume(path: str | os.PathLike, dataset: str | None = None) -> Any:
    """A lazily read array-like for `path` (see the module docstring for formats).

    A TIFF file reads as a whole, as stored (a 2D page stays (Y, X), as `write_volume` wrote it). A PNG or
    JPEG file is one section of shape (1, Y, X) ((1, Y, X, C) in colour), exactly what a folder holding only
    that image reads as.
    HDF5 files stay open while the returned dataset is in use; open volumes in each worker process
    rather than before forking (`VolumeDataset` does this).

    Raises
    ------
    FileNotFoundError
        `path` does not exist (the message suggests similar names in its folder), or no slices match.
    KeyError
        `dataset` is not in the HDF5 file or zarr group; the message lists the datasets there.
    ValueError
        `dataset` is None but the file holds several datasets, or the format is unknown.
    VolumeReadError
        The file exists but cannot be read (truncated, corrupt, not the format its name says); an OSError and
        a ValueError that names the file and chains the library's exception. Reading regions of an HDF5 or
        zarr volume later raises what h5py or zarr raise; `read_volume` names the file for those too.
    """
    path = Path(path)
    text = str(path)
    if any(c in text for c in "*?["):
        return SliceStack(_slice_files(text))
    if not path.exists():
        raise _not_found(path)
    suffix = path.suffix.lower()
    if suffix in HDF5_SUFFIXES:
        return _open_hdf5(path, dataset)
    if _is_zarr(path):
        return _open_zarr(path, dataset)
    if suffix == ".npy":
        with _reading("open_volume", path):
            return np.load(path, mmap_mode="r")
    if suffix == ".json":
        return TiledVolume.from_json(path)
    if suffix in TIFF_SUFFIXES:
        import tifffile

        with _reading("open_volume", path):
            return tifffile.imread(path)
    if suffix in SINGLE_IMAGE_SUFFIXES and path.is_file():
        return SliceStack([str(path)])
    if path.is_dir():
        return SliceStack(_slice_files(path))
    raise ValueError(f"open_volume: unknown format {suffix!r} for {path}; supported: {FORMATS}")


def read_volume(path: str | os.PathLike, dataset: str | None = None) -> np.ndarray:
    """Reads a whole volume into memory as a numpy array (see `open_volume` for formats, shapes and errors).

    Examples
    --------
    >>> labels = read_volume("train-gt.lzf.h5", "stack")           # doctest: +SKIP
    >>> raw = read_volume("stack1/raw/*.tif")                      # doctest: +SKIP
    >>> read_volume("em_section.png").shape                        # doctest: +SKIP
    (1, 512, 512)
    """
    volume = open_volume(path, dataset)
    name = dataset if dataset is not None else str(getattr(volume, "name", None) or "").strip("/") or None
    try:
        with _reading("read_volume", path, name):
            return np.asarray(volume)
    finally:
        if hasattr(volume, "file"):  # h5py dataset: close its file
            volume.file.close()


# Attributes that tie a prediction to its volumes, so `python -m pytc.view --run` shows them together.
SOURCE_IMAGE_ATTR, SOURCE_LABEL_ATTR = "pytc_image", "pytc_label"


def set_attributes(path: str | os.PathLike, dataset: str | None, attributes: dict[str, Any]) -> bool:
    """Sets `attributes` on `dataset` of an HDF5 file or zarr store (the store itself when `dataset` is None);
    returns False, doing nothing, for formats without attributes."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in HDF5_SUFFIXES:
        import h5py

        with h5py.File(path, "a") as f:
            f[dataset or "main"].attrs.update(attributes)
        return True
    if suffix in ZARR_SUFFIXES:
        import zarr

        node = zarr.open(str(path), mode="r+")
        (node if dataset is None or hasattr(node, "shape") else node[dataset]).attrs.update(attributes)
        return True
    return False


def create_zarr_array(
    path: str | os.PathLike,
    name: str | None,
    shape: Sequence[int],
    dtype: Any,
    chunks: Sequence[int] | None = None,
    overwrite: bool = False,
) -> Any:
    """The array `name` of the zarr group at `path` (created if missing), made with `shape`, `dtype`, `chunks`
    and fill value 0; zarr 2 and 3 alike."""
    import zarr

    group = zarr.open_group(str(path), mode="a")
    if name in group and not overwrite:
        return group[name]
    if hasattr(group, "create_array"):  # zarr 3
        return group.create_array(
            name, shape=shape, dtype=dtype, chunks=chunks or "auto", fill_value=0, overwrite=overwrite
        )
    return group.create_dataset(
        name, shape=shape, dtype=dtype, chunks=chunks or True, fill_value=0, overwrite=overwrite
    )


def write_volume(
    path: str | os.PathLike, array: Any, dataset: str | None = None, compression: str | None = "gzip", mode: str = "w"
) -> None:
    """Writes `array`, in the format chosen by the path: HDF5 (under `dataset`, default 'main', compressed),
    zarr (the root array, or the array `dataset` of a group), TIFF, .npy, or a folder of PNG slices when `path`
    is a folder name ending in '/' or without suffix.

    `mode` 'w' replaces an HDF5 file or zarr store; 'a' adds (or replaces) `dataset` in an existing one.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    array = np.asarray(array)
    if mode not in ("w", "a"):
        raise ValueError(f"write_volume: `mode` must be 'w' or 'a'; got {mode!r}")
    if suffix in HDF5_SUFFIXES:
        import h5py

        dataset = dataset or "main"
        with h5py.File(path, mode) as f:
            if dataset in f:
                del f[dataset]
            f.create_dataset(dataset, data=array, compression=compression)
    elif suffix in ZARR_SUFFIXES:
        import zarr

        if dataset is None:
            zarr.save_array(str(path), array)
        else:
            zarr.open_group(str(path), mode=mode)  # 'w' empties the store
            create_zarr_array(path, dataset, array.shape, array.dtype, overwrite=True)[...] = array
    elif suffix in TIFF_SUFFIXES:
        import tifffile

        tifffile.imwrite(path, array, photometric="minisblack")  # a stack of sections, never RGB
    elif suffix == ".npy":
        np.save(path, array)
    elif suffix == "":
        from PIL import Image

        path.mkdir(parents=True, exist_ok=True)
        digits = len(str(max(len(array) - 1, 0)))
        for z, section in enumerate(array):
            Image.fromarray(section).save(path / f"{z:0{digits}d}.png")
    else:
        raise ValueError(f"write_volume: unknown format {suffix!r} for {path}; supported: {WRITE_FORMATS}")
