"""The volumes of a run folder: the image and label that its config names, and its predictions.

A training run folder holds config.yaml (the resolved config, absolute volume paths); `python -m pytc.demo`
and `python -m pytc.infer --output RUN/predictions/...` write predictions in RUN/predictions/. Each HDF5 or
zarr prediction records the image it was predicted from in its `pytc_image` attribute (and the demo its ground
truth in `pytc_label`), so an inference output folder opens with its image too. A selection folder of
`python -m pytc.active select` opens with its pool, uncertainty map, ingested labels and its patches as boxes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..data.io import (
    HDF5_SUFFIXES,
    SOURCE_IMAGE_ATTR,
    SOURCE_LABEL_ATTR,
    ZARR_SUFFIXES,
    hdf5_datasets,
    zarr_arrays,
)
from .volumes import VolumeSpec

PREDICTIONS = "predictions"
SELECTION_MANIFEST = "manifest.json"  # a selection folder of `python -m pytc.active select`


def _config_volumes(run_dir):
    """The first image and label of the config's validation split (else its training split)."""
    import yaml

    config = run_dir / "config.yaml"
    if not config.is_file():
        return []
    data = (yaml.safe_load(config.read_text()) or {}).get("data") or {}
    for split in ("val", "train"):
        volumes = data.get(split) or {}
        if volumes.get("image"):
            specs = [VolumeSpec.parse(volumes["image"][0]), *map(VolumeSpec.parse, (volumes.get("label") or [])[:1])]
            for spec, role in zip(specs, ("image", "label")):
                spec.kind, spec.name = ("image" if role == "image" else "seg"), f"{split}_{role}"
            return specs
    return []


def _datasets(path):
    """[(array name, its attributes over the file's or store's)] of an HDF5 file or zarr store (name None for
    a store that is one array)."""
    if path.suffix.lower() in HDF5_SUFFIXES:
        import h5py

        with h5py.File(path, "r") as f:
            return [(name, {**f.attrs, **f[name].attrs}) for name in hdf5_datasets(f)]
    import zarr

    root = zarr.open(str(path), mode="r")
    if hasattr(root, "shape"):
        return [(None, dict(root.attrs))]
    return [(name, {**root.attrs, **root[name].attrs}) for name in zarr_arrays(root)]


def prediction_files(folder: Path) -> list[Path]:
    """HDF5 files and zarr stores in `folder` (not in subfolders other than zarr stores), sorted by name."""
    if not folder.is_dir():
        return []
    suffixes = HDF5_SUFFIXES + ZARR_SUFFIXES
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes and not p.name.startswith("."))


def _attribute_specs(attrs, run_dir, seen):
    """Image and label volumes that a prediction names in its attributes."""
    specs = []
    for attr, kind in ((SOURCE_IMAGE_ATTR, "image"), (SOURCE_LABEL_ATTR, "seg")):
        text = attrs.get(attr)
        if isinstance(text, bytes):
            text = text.decode()
        if isinstance(text, str) and text and text not in seen:
            seen.add(text)
            spec = VolumeSpec.parse(text)
            if not Path(spec.path).is_absolute():
                spec.path = os.path.normpath(run_dir / spec.path)
            spec.kind, spec.name = kind, kind if kind == "image" else "label"
            specs.append(spec)
    return specs


def _selection_volumes(folder, manifest):
    """A selection folder of `python -m pytc.active select`: its pool, uncertainty map, and ingested labels."""
    pool = VolumeSpec.parse(manifest["pool"])
    pool.kind, pool.name = "image", "pool"
    specs = [pool]
    for file, dataset, kind in (("uncertainty.h5", "uncertainty", "prob"), ("labels.h5", "label", "seg")):
        if (folder / file).is_file():
            specs.append(VolumeSpec(str(folder / file), dataset, kind, dataset))
    return specs


def run_boxes(run_dir: str | os.PathLike) -> list[dict]:
    """The patches of a selection folder (its manifest.json) as boxes: [{name, start, stop, score}], else []."""
    manifest = Path(run_dir) / SELECTION_MANIFEST
    if not manifest.is_file():
        return []
    patches = json.loads(manifest.read_text()).get("patches", [])
    return [
        {
            "name": p["name"],
            "start": list(p["start"]),
            "stop": [a + b for a, b in zip(p["start"], p["shape"])],
            "score": p.get("score"),
        }
        for p in patches
    ]


def run_volumes(run_dir: str | os.PathLike) -> list[VolumeSpec]:
    """Everything to show for a training or inference run folder: the config's image and label, then each
    dataset of each prediction file (in RUN/predictions/, or in RUN itself for a folder of inference outputs),
    with the image and label those predictions name; for a selection folder, its pool and maps (the boxes
    come from `run_boxes`).

    Raises FileNotFoundError when `run_dir` is not a folder or holds nothing to show.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"view: `--run` must be a run folder; got {run_dir}, which is not a folder")
    if (run_dir / SELECTION_MANIFEST).is_file():
        return _selection_volumes(run_dir, json.loads((run_dir / SELECTION_MANIFEST).read_text()))
    specs = _config_volumes(run_dir)
    seen = {str(s.path) + (f":{s.dataset}" if s.dataset else "") for s in specs}
    files = prediction_files(run_dir / PREDICTIONS) or prediction_files(run_dir)
    for path in files:
        for name, attrs in _datasets(path):
            specs += _attribute_specs(attrs, run_dir, seen)
            specs.append(VolumeSpec(str(path), name, name=f"{path.stem}/{name}" if name else path.stem))
    if not specs:
        raise FileNotFoundError(
            f"view: run folder {run_dir} has nothing to show: no config.yaml naming volumes and no HDF5 or zarr "
            f"predictions in it or in {run_dir / PREDICTIONS}"
        )
    return specs
