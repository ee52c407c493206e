"""The labels of a selection, taken back into one pool-shaped label volume and valid mask for masked fine-tuning
(`python -m pytc.active ingest`, see `pytc.active.ingest_command` for the inputs and the output)."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data import open_volume, split_dataset

MANIFEST_VERSION = 1
LABEL, MASK = "label", "mask"  # datasets of the output file
PATCHES_ATTR = "patches"  # JSON list of {"name", "selection", "start", "shape", "source"}: the ingested patches


class IngestError(ValueError):
    """A selection, a labels file or an output that cannot be ingested; the message says what to change."""


@dataclass
class Patch:
    name: str
    start: tuple[int, int, int]
    shape: tuple[int, int, int]

    @property
    def region(self) -> tuple[slice, ...]:
        return tuple(slice(s, s + n) for s, n in zip(self.start, self.shape))


@dataclass
class SelectionFolder:
    """A selection folder's manifest: the pool volume spec, its shape, the checkpoint and the patches."""

    folder: Path
    pool: str
    pool_shape: tuple[int, int, int]
    checkpoint: str | None
    patches: list[Patch] = field(default_factory=list)


def read_selection(folder: str | Path) -> SelectionFolder:
    """The manifest of a selection folder, checked: version, pool (opened for its shape), patches inside it."""
    folder = Path(folder)
    path = folder / "manifest.json"
    if not path.is_file():
        raise IngestError(f"{folder} is not a selection folder: {path} does not exist")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise IngestError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION:
        raise IngestError(f"{path}: `version` must be {MANIFEST_VERSION}; got {_get(manifest, 'version')!r}")
    pool = manifest.get("pool")
    if not isinstance(pool, str) or not pool:
        raise IngestError(f"{path}: `pool` must be a volume spec PATH[:DATASET]; got {pool!r}")
    try:
        shape = tuple(int(n) for n in open_volume(*split_dataset(pool)).shape)
    except (OSError, KeyError, ValueError) as e:
        raise IngestError(
            f"{path}: cannot open the pool {pool}: {e.args[0] if isinstance(e, KeyError) else e}"
        ) from None
    if len(shape) != 3:
        raise IngestError(f"{path}: the pool {pool} must be a 3D (Z, Y, X) volume; got shape {shape}")
    patches, names = [], set()
    for i, entry in enumerate(manifest.get("patches") or []):
        try:
            patch = Patch(str(entry["name"]), _triple(entry["start"]), _triple(entry["shape"]))
        except (KeyError, TypeError, ValueError):
            raise IngestError(
                f"{path}: `patches[{i}]` must have a name and 3-int start and shape; got {entry!r}"
            ) from None
        if patch.name in names:
            raise IngestError(f"{path}: patch name {patch.name!r} appears twice")
        if (
            min(patch.start) < 0
            or min(patch.shape) < 1
            or any(s + n > m for s, n, m in zip(patch.start, patch.shape, shape))
        ):
            raise IngestError(
                f"{path}: patch {patch.name!r} (start {list(patch.start)}, shape {list(patch.shape)}) is not inside "
                f"the pool of shape {list(shape)}"
            )
        names.add(patch.name)
        patches.append(patch)
    if not patches:
        raise IngestError(f"{path}: `patches` is empty; nothing to ingest")
    checkpoint = manifest.get("checkpoint")
    if isinstance(checkpoint, list):  # an ensemble: fine-tune its first member
        checkpoint = checkpoint[0] if checkpoint else None
    return SelectionFolder(folder, pool, shape, None if checkpoint is None else str(checkpoint), patches)


def _get(d, key):
    return d.get(key) if isinstance(d, dict) else None


def _triple(value) -> tuple[int, int, int]:
    values = tuple(int(v) for v in value)
    if len(values) != 3 or any(v != w for v, w in zip(values, value)):
        raise ValueError(value)
    return values


def read_patch_labels(selection: SelectionFolder, labels: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """({patch name: label crop}, {patch name: source}) of every patch of `selection`, from `labels`: a volume of
    the pool's shape (only the patches are read; source: the spec) or an HDF5 file of "<name>/label" groups
    (source: the file and the patch name, a separate id space per patch)."""
    path, dataset = split_dataset(labels)
    if not Path(path).exists():
        raise IngestError(f"LABELS: {path} does not exist")
    if dataset is None and _is_patch_file(path):
        return _read_patch_file(selection, path)
    try:
        volume = open_volume(path, dataset)
    except (OSError, KeyError, ValueError) as e:
        raise IngestError(f"LABELS: cannot open {labels}: {e.args[0] if isinstance(e, KeyError) else e}") from None
    if tuple(volume.shape) != selection.pool_shape:
        raise IngestError(
            f"LABELS: {labels} has shape {tuple(volume.shape)}; a label volume must have the pool's shape "
            f"{selection.pool_shape} ({selection.pool}), or give an HDF5 file with one <name>/label group per patch"
        )
    source = str(Path(path).absolute()) + ("" if dataset is None else f":{dataset}")
    crops = {
        p.name: _check_ids(np.asarray(volume[p.region]), f"LABELS {labels} in patch {p.name!r}")
        for p in selection.patches
    }
    return crops, {p.name: source for p in selection.patches}


def _is_patch_file(path: str) -> bool:
    import h5py

    if not h5py.is_hdf5(path):
        return False
    with h5py.File(path, "r") as f:
        return any(isinstance(node, h5py.Group) and LABEL in node for node in f.values())


def _read_patch_file(selection: SelectionFolder, path: str):
    import h5py

    names = {p.name for p in selection.patches}
    crops, sources = {}, {}
    with h5py.File(path, "r") as f:
        unknown = sorted(set(f) - names)
        if unknown:
            raise IngestError(
                f"LABELS: {path} has groups {unknown} that are not patches of {selection.folder} "
                f"(its patches: {sorted(names)})"
            )
        missing = [p.name for p in selection.patches if f"{p.name}/{LABEL}" not in f]
        if missing:
            raise IngestError(f"LABELS: {path} lacks the labels of patches {missing} (each as '<name>/{LABEL}')")
        for p in selection.patches:
            crop = np.asarray(f[f"{p.name}/{LABEL}"])
            if crop.shape != p.shape:
                raise IngestError(
                    f"LABELS: {path}: '{p.name}/{LABEL}' has shape {crop.shape}; patch {p.name!r} has shape {p.shape}"
                )
            crops[p.name] = _check_ids(crop, f"LABELS {path}: '{p.name}/{LABEL}'")
            sources[p.name] = f"{Path(path).absolute()}#{p.name}"
    return crops, sources


def _check_ids(crop: np.ndarray, what: str) -> np.ndarray:
    if crop.dtype == bool:
        return crop.astype(np.uint8)
    if crop.dtype.kind not in "iu":
        raise IngestError(f"{what}: labels must be integer ids; got dtype {crop.dtype}")
    if crop.size and crop.min() < 0:
        raise IngestError(f"{what}: ids must be >= 0; got {int(crop.min())}")
    return crop


@dataclass
class IngestResult:
    output: Path
    patches: list[str]
    relabelled: list[str]
    labelled_voxels: int  # the mask's voxels in the output, all rounds together
    max_id: int


def ingest(selection: str | Path | SelectionFolder, labels: str, output: str | Path | None = None) -> IngestResult:
    """Writes (or adds to) the output labels file of a selection; see the module docstring."""
    import h5py

    sel = selection if isinstance(selection, SelectionFolder) else read_selection(selection)
    output = Path(output) if output is not None else sel.folder / "labels.h5"
    crops, sources = read_patch_labels(sel, labels)
    output.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(output, "a") as f:
        # a patch ingested again (the same region) is replaced; its old labels are overwritten
        regions = {(p.start, p.shape) for p in sel.patches}
        ingested = [e for e in _prepare(f, output, sel) if (tuple(e["start"]), tuple(e["shape"])) not in regions]
        relabelled = []
        for patch in sel.patches:
            crop = _unique_ids(f, patch, crops[patch.name], sources[patch.name], ingested)
            if crop is not crops[patch.name]:
                relabelled.append(patch.name)
            _write(f, patch, crop)
            ingested.append(
                {
                    "name": patch.name,
                    "selection": str(sel.folder.absolute()),
                    "start": list(patch.start),
                    "shape": list(patch.shape),
                    "source": sources[patch.name],
                }
            )
        f.attrs[PATCHES_ATTR] = json.dumps(ingested)
        max_id = max((_max_id(f, e) for e in ingested), default=0)
        f.attrs["max_id"] = max_id
        voxels = sum(int(np.count_nonzero(f[MASK][_region(e)])) for e in ingested)
    return IngestResult(output, [p.name for p in sel.patches], relabelled, voxels, max_id)


def _prepare(f, output, sel) -> list[dict[str, Any]]:
    """The entries of the patches already in `f`, after creating its datasets or checking them against the pool."""
    if LABEL not in f and MASK not in f:
        chunks = tuple(min(n, c) for n, c in zip(sel.pool_shape, (16, 64, 64)))
        for name, dtype in ((LABEL, np.uint32), (MASK, np.uint8)):
            f.create_dataset(
                name,
                shape=sel.pool_shape,
                dtype=dtype,
                chunks=chunks,
                compression="gzip",
                compression_opts=1,
                fillvalue=0,
            )
        f.attrs["pool"] = sel.pool
        f.attrs[PATCHES_ATTR] = "[]"
        return []
    for name in (LABEL, MASK):
        if name not in f or tuple(f[name].shape) != sel.pool_shape:
            shape = tuple(f[name].shape) if name in f else None
            raise IngestError(
                f"--output: {output} is not a labels file of this pool: its '{name}' has shape {shape}; the pool "
                f"{sel.pool} has {sel.pool_shape}"
            )
    return json.loads(f.attrs.get(PATCHES_ATTR, "[]"))


def _region(entry) -> tuple[slice, ...]:
    return tuple(slice(s, s + n) for s, n in zip(entry["start"], entry["shape"]))


def _max_id(f, entry) -> int:
    crop = f[LABEL][_region(entry)]
    return int(crop.max()) if crop.size else 0


def _unique_ids(f, patch: Patch, crop: np.ndarray, source: str, ingested: list[dict]) -> np.ndarray:
    """`crop`, or `crop` with its nonzero ids mapped above every id in use when ids of a patch from another source
    (outside this patch) already use some of them."""
    ids = np.unique(crop)
    ids = ids[ids != 0]
    if not ids.size:
        return crop
    used = set()
    top = 0
    for entry in ingested:
        other = np.asarray(f[LABEL][_region(entry)])
        if entry["source"] != source:
            inside = _overlap_mask(entry, patch)  # voxels that this patch overwrites do not count
            used.update(np.unique(other[~inside]).tolist() if inside is not None else np.unique(other).tolist())
        top = max(top, int(other.max()) if other.size else 0)
    used.discard(0)
    if not used.intersection(ids.tolist()):
        return crop
    mapping = np.arange(top + 1, top + 1 + ids.size, dtype=np.uint64)
    out = np.zeros(crop.shape, np.uint64)
    nonzero = crop != 0
    out[nonzero] = mapping[np.searchsorted(ids, crop[nonzero])]
    return out


def _overlap_mask(entry, patch: Patch) -> np.ndarray | None:
    """Within the region of `entry`, the voxels that `patch` covers (None when they do not overlap)."""
    lo = [max(a, b) for a, b in zip(entry["start"], patch.start)]
    hi = [min(a + n, b + m) for a, n, b, m in zip(entry["start"], entry["shape"], patch.start, patch.shape)]
    if any(l >= h for l, h in zip(lo, hi)):
        return None
    inside = np.zeros(tuple(entry["shape"]), bool)
    inside[tuple(slice(l - s, h - s) for l, h, s in zip(lo, hi, entry["start"]))] = True
    return inside


def _write(f, patch: Patch, crop: np.ndarray) -> None:
    top = int(crop.max()) if crop.size else 0
    if top > np.iinfo(f[LABEL].dtype).max:
        if f[LABEL].dtype == np.uint64:
            raise IngestError(f"patch {patch.name!r}: id {top} does not fit in uint64")
        _widen_labels(f)
    f[LABEL][patch.region] = crop.astype(f[LABEL].dtype)
    f[MASK][patch.region] = 1


def _widen_labels(f) -> None:
    """Rewrites the label dataset as uint64 (ids past uint32), slab by slab."""
    old = f[LABEL]
    new = f.create_dataset(
        LABEL + "_uint64", shape=old.shape, dtype=np.uint64, chunks=old.chunks, compression="gzip", compression_opts=1
    )
    step = old.chunks[0] if old.chunks else 16
    for z in range(0, old.shape[0], step):
        new[z : z + step] = old[z : z + step]
    del f[LABEL]
    f.move(LABEL + "_uint64", LABEL)


def finetune_command(sel: SelectionFolder, output: Path, min_valid: float | None = None) -> list[str] | None:
    """The `pytc.train` command that fine-tunes the selection's checkpoint on the ingested labels (None when the
    manifest names no checkpoint): the run's config, the pool as the only training image, the labels file's
    label and mask, and `data.min_valid` from the run's sample shape and the patches (see `default_min_valid`)."""
    from ..models.checkpoint import resolve_checkpoint

    if sel.checkpoint is None:
        return None
    try:
        checkpoint = resolve_checkpoint(sel.checkpoint)
    except FileNotFoundError as e:
        raise IngestError(f"the selection's checkpoint: {e}") from None
    run = checkpoint.parent
    config = run / "config.yaml"
    if min_valid is None:
        min_valid = default_min_valid(config, sel.patches)
    output = Path(output).absolute()
    pool_path, pool_dataset = split_dataset(sel.pool)
    pool = str(Path(pool_path).absolute()) + ("" if pool_dataset is None else f":{pool_dataset}")
    return [
        "python",
        "-m",
        "pytc.train",
        "--config",
        str(config),
        "--checkpoint",
        str(checkpoint),
        f"data.train.image=[{pool}]",
        f"data.train.label=[{output}:{LABEL}]",
        f"data.train.mask=[{output}:{MASK}]",
        f"data.min_valid={min_valid}",
        "--output",
        f"{run}_ft",
    ]


def default_min_valid(config: Path, patches: Sequence[Patch]) -> float:
    """Half the valid fraction that a training sample can reach in the smallest patch, at most 0.5: a sample
    of the run's `data.sample_shape` cut by a smaller patch cannot be more valid than the patch fills it."""
    from ..config import ConfigError, load_config

    try:
        sample = tuple(load_config(config).data.sample_shape)
    except (ConfigError, OSError):
        return 0.5
    sample = (1,) + sample if len(sample) == 2 else sample
    best = min(float(np.prod([min(p, s) for p, s in zip(patch.shape, sample)]) / np.prod(sample)) for patch in patches)
    return round(min(0.5, 0.5 * best), 3)
