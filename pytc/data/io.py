"""Reading and writing EM volumes: HDF5, TIFF and .npy."""

from pathlib import Path

import numpy as np

HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")
TIFF_SUFFIXES = (".tif", ".tiff")
SUFFIXES = HDF5_SUFFIXES + TIFF_SUFFIXES + (".npy",)


def _hdf5_datasets(group, prefix=""):
    import h5py

    names = []
    for key, item in group.items():
        if isinstance(item, h5py.Dataset):
            names.append(prefix + key)
        elif isinstance(item, h5py.Group):
            names += _hdf5_datasets(item, prefix + key + "/")
    return names


def read_volume(path, dataset=None):
    """Reads a whole volume into memory.

    Parameters
    ----------
    path : str or Path
        An HDF5 file (.h5, .hdf5, .hdf), a TIFF stack (.tif, .tiff) or a .npy file.
    dataset : str, optional
        HDF5 dataset name; may be omitted when the file holds exactly one dataset.

    Returns
    -------
    ndarray, as stored (e.g. (Z, Y, X)).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"read_volume: `path` does not exist: {path}")
    suffix = path.suffix.lower()
    if suffix in HDF5_SUFFIXES:
        import h5py

        with h5py.File(path, "r") as f:
            if dataset is None:
                names = _hdf5_datasets(f)
                if len(names) != 1:
                    raise ValueError(
                        f"read_volume: `dataset` must name one of the datasets in {path}; "
                        f"found {names or 'none'}"
                    )
                dataset = names[0]
            if dataset not in f:
                raise KeyError(f"read_volume: dataset {dataset!r} not in {path}; found {_hdf5_datasets(f)}")
            return f[dataset][()]
    if suffix in TIFF_SUFFIXES:
        import tifffile

        return tifffile.imread(path)
    if suffix == ".npy":
        return np.load(path)
    raise ValueError(f"read_volume: unknown format {suffix!r} for {path}; supported: {', '.join(SUFFIXES)}")


def write_volume(path, array, dataset="main", compression="gzip"):
    """Writes `array` to HDF5 (under `dataset`, compressed), TIFF or .npy, chosen by suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in HDF5_SUFFIXES:
        import h5py

        with h5py.File(path, "w") as f:
            f.create_dataset(dataset, data=array, compression=compression)
    elif suffix in TIFF_SUFFIXES:
        import tifffile

        tifffile.imwrite(path, array, photometric="minisblack")  # a stack of sections, never RGB
    elif suffix == ".npy":
        np.save(path, array)
    else:
        raise ValueError(f"write_volume: unknown format {suffix!r} for {path}; supported: {', '.join(SUFFIXES)}")
