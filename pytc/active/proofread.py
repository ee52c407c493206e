"""Semi-automatic annotation: the model's proposal with its merge history, corrected by a list of operations.

Proposal
--------
`propose(affinities, threshold)` agglomerates the watershed fragments of the affinities
(`pytc.kernels.agglomerate_history`) and keeps the segmentation, the fragments and the merge
history: merge i joined the region labelled ``merges[i, 1]`` to the region labelled
``merges[i, 0]`` (regions carry the label of one of their fragments) at ``scores[i]``.
`Proposal.save(path)` / `Proposal.load(path)` use one HDF5 file: datasets ``segmentation``,
``fragments``, ``merges``, ``scores``, and attributes ``pytc_proposal`` (format version),
``threshold`` and ``scoring``.

Operations
----------
A JSON list of objects, applied in order (`apply_operations`); ids are positive integers and
points and boxes are voxel coordinates ``[z, y, x]`` (boxes: ``start`` included, ``stop``
excluded)::

    [{"op": "merge", "ids": [3, 7]},
     {"op": "split", "id": 5, "points": [[2, 10, 14], [2, 40, 41]]},
     {"op": "paint", "id": 9, "start": [0, 0, 0], "stop": [4, 8, 8]},
     {"op": "paint", "id": 9, "mask": "mask.h5:main"},
     {"op": "erase", "start": [0, 0, 0], "stop": [4, 8, 8]},
     {"op": "correct", "id": 4}]

- ``merge``: the ids become one, the smallest of them; the others are recorded as merged into it.
- ``split``: separates the points of one id (two or more points, all in that id). With a merge
  history (a proposal), each point after the first gets the fragments that were on its side of
  the merge that first joined it to an earlier point (their lowest common ancestor in the
  dendrogram: that merge is undone) under a new id, and the rest keeps the id; a point whose
  fragments were never joined to an earlier point's (ids merged by an operation) takes its
  whole proposed segment. So a split follows the model's own fragments. Without a history, or
  when two points lie in one fragment or on a voxel without a fragment, a seeded watershed of
  the id's region from the points on its distance transform (points after the first flood new ids).
- ``paint``: sets a box or a mask (``"mask": "PATH[:DATASET]"``, nonzero = painted, the shape of
  the volume; a relative path is read from the operations file's folder) to the id, new or
  existing.
- ``erase``: sets a box or a mask to 0.
- ``correct``: marks the id as verified (listed in the result).

Applying the same list to its own result changes nothing: merged ids resolve to the id they
were merged into (merge, split and paint follow them), a split whose points already lie in
separate parts of the id finds nothing to do, new ids are the next free ones (one above every
id ever used), and a correct of an id that was merged away does nothing. The result records
``verified`` ids, ``merged`` ({id: id merged into}) and ``split`` ({new id: id split from}):
`Corrected.save` writes them with the labels (HDF5 or zarr attributes, else a JSON file beside
them) and `load_corrected` reads them back, so a corrected volume can be corrected again.

Errors (`ProofreadError`, a ValueError) name the operation's index: an unknown op or key, an
unknown id, a point or box outside the volume, split points in different ids.

Examples
--------
>>> import numpy as np
>>> labels = np.array([[[1, 1, 2, 2, 3, 3]]])
>>> ops = [{"op": "merge", "ids": [3, 2]}, {"op": "erase", "start": [0, 0, 0], "stop": [1, 1, 1]},
...        {"op": "correct", "id": 2}]
>>> result = apply_operations(labels, ops)
>>> result.labels.ravel().tolist(), result.verified, result.merged
([0, 1, 2, 2, 2, 2], [2], {3: 2})
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..data.io import HDF5_SUFFIXES, ZARR_SUFFIXES, read_volume, set_attributes, split_dataset, write_volume
from ..kernels import agglomerate_history
from ..validation import as_probabilities, fail

PROPOSAL_VERSION = 1
RECORD_ATTR = "pytc_proofread"  # JSON of {"verified", "merged", "split"} on the corrected labels
VERIFIED_ATTR = "pytc_verified"  # the verified ids, also as an integer list
OPS = ("merge", "split", "paint", "erase", "correct")


class ProofreadError(ValueError):
    """An operation that cannot be applied; the message names the operation's index."""


@dataclass
class Proposal:
    """The model's segmentation with the fragments it was agglomerated from and the merge history."""

    segmentation: np.ndarray  # uint64 (Z, Y, X)
    fragments: np.ndarray  # uint64 (Z, Y, X)
    merges: np.ndarray  # uint64 (M, 2): merge i joined region merges[i, 1] to region merges[i, 0]
    scores: np.ndarray  # float32 (M,)
    threshold: float = float("nan")
    scoring: str = ""

    def save(self, path: str | os.PathLike) -> None:
        """Writes the proposal to one HDF5 file (replaced if it exists)."""
        import h5py

        with h5py.File(path, "w") as f:
            f.attrs.update({"pytc_proposal": PROPOSAL_VERSION, "threshold": self.threshold, "scoring": self.scoring})
            for name in ("segmentation", "fragments"):
                f.create_dataset(name, data=getattr(self, name), compression="gzip")
            f.create_dataset("merges", data=np.asarray(self.merges, np.uint64).reshape(-1, 2))
            f.create_dataset("scores", data=np.asarray(self.scores, np.float32))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Proposal:
        """Reads a proposal written by `save`."""
        import h5py

        with h5py.File(path, "r") as f:
            if "pytc_proposal" not in f.attrs:
                raise fail("Proposal.load", "path", "a proposal file (written by Proposal.save)", str(path))
            return cls(
                segmentation=f["segmentation"][...].astype(np.uint64),
                fragments=f["fragments"][...].astype(np.uint64),
                merges=f["merges"][...].astype(np.uint64).reshape(-1, 2),
                scores=f["scores"][...].astype(np.float32),
                threshold=float(f.attrs["threshold"]),
                scoring=str(f.attrs["scoring"]),
            )


def is_proposal(path: str | os.PathLike) -> bool:
    """Whether `path` is an HDF5 file written by `Proposal.save`."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "pytc_proposal" in f.attrs
    except OSError:
        return False


def propose(
    affinities: ArrayLike,
    threshold: float,
    *,
    scoring: str = "quantile-50-histogram",
    fragments: ArrayLike | None = None,
    threads: int | None = None,
    **options: Any,
) -> Proposal:
    """The proposal of (C >= 3, Z, Y, X) affinity probabilities at one agglomeration `threshold`.

    Fragments: the watershed of the affinities unless given; `scoring` and `options` (``low``,
    ``high``, ``init_with_max``) as `pytc.kernels.agglomerate`, with `pytc.decode`'s default scoring.
    """
    fn = "propose"
    affinities = as_probabilities(affinities, fn, "affinities")
    if affinities.ndim != 4 or affinities.shape[0] < 3:
        raise fail(fn, "affinities", "(C >= 3, Z, Y, X) with the nearest neighbours first", affinities.shape)
    result = agglomerate_history(
        np.ascontiguousarray(affinities[:3]),
        threshold,
        fragments=fragments,
        scoring=scoring,
        threads=threads,
        **options,
    )
    return Proposal(
        segmentation=result.segmentation,
        fragments=np.asarray(result.fragments, np.uint64),
        merges=result.merges,
        scores=result.scores,
        threshold=float(threshold),
        scoring=scoring,
    )


@dataclass
class Corrected:
    """Corrected labels and what the operations recorded (see the module docstring)."""

    labels: np.ndarray  # uint64 (Z, Y, X)
    verified: list[int] = field(default_factory=list)
    merged: dict[int, int] = field(default_factory=dict)  # id -> the id it was merged into
    split: dict[int, int] = field(default_factory=dict)  # id made by a split -> the id it was split from

    def record(self) -> dict[str, Any]:
        return {
            "verified": sorted(self.verified),
            "merged": {str(k): v for k, v in sorted(self.merged.items())},
            "split": {str(k): v for k, v in sorted(self.split.items())},
        }

    def save(self, spec: str | os.PathLike) -> None:
        """Writes the labels to ``PATH[:DATASET]`` (any `pytc.data.write_volume` format) with the record."""
        path, dataset = split_dataset(spec)
        keep_others = Path(path).suffix.lower() in HDF5_SUFFIXES + ZARR_SUFFIXES and Path(path).exists()
        write_volume(path, self.labels, dataset, mode="a" if keep_others else "w")  # other datasets stay
        attributes = {RECORD_ATTR: json.dumps(self.record()), VERIFIED_ATTR: [int(i) for i in sorted(self.verified)]}
        if not set_attributes(path, dataset, attributes):
            Path(_sidecar(path)).write_text(json.dumps(self.record(), indent=1) + "\n")


def _sidecar(path):
    return f"{path}.proofread.json"


def load_corrected(spec: str | os.PathLike) -> Corrected:
    """Labels ``PATH[:DATASET]`` (any `pytc.data.read_volume` format) with the record `Corrected.save` wrote
    beside them, if any."""
    path, dataset = split_dataset(spec)
    labels = np.asarray(read_volume(path, dataset))
    record = _read_record(path, dataset)
    return Corrected(
        labels=_as_labels(labels, "load_corrected"),
        verified=[int(i) for i in record.get("verified", [])],
        merged={int(k): int(v) for k, v in record.get("merged", {}).items()},
        split={int(k): int(v) for k, v in record.get("split", {}).items()},
    )


def _read_record(path, dataset):
    if Path(_sidecar(path)).is_file():
        return json.loads(Path(_sidecar(path)).read_text())
    suffix = Path(path).suffix.lower()
    if suffix in HDF5_SUFFIXES:
        import h5py

        with h5py.File(path, "r") as f:
            names = [dataset] if dataset else [name for name in f if isinstance(f[name], h5py.Dataset)]
            for name in names:
                if RECORD_ATTR in f[name].attrs:
                    return json.loads(f[name].attrs[RECORD_ATTR])
    elif suffix in ZARR_SUFFIXES:
        import zarr

        node = zarr.open(str(path), mode="r")
        node = node if dataset is None or hasattr(node, "shape") else node[dataset]
        if RECORD_ATTR in node.attrs:
            return json.loads(node.attrs[RECORD_ATTR])
    return {}


def _as_labels(labels, fn):
    labels = np.asarray(labels)
    if labels.ndim != 3 or not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise fail(fn, "labels", "a 3D integer array", f"shape {labels.shape}, dtype {labels.dtype}")
    if labels.size and np.issubdtype(labels.dtype, np.signedinteger) and labels.min() < 0:
        raise fail(fn, "labels", ">= 0 (0 = background)", f"minimum {labels.min()}")
    return labels.astype(np.uint64)  # a copy: the input is never modified


def load_operations(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The operations of a JSON file (a list of objects); ProofreadError if it is not one."""
    try:
        operations = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ProofreadError(f"load_operations: {path} is not valid JSON: {error}") from None
    if not isinstance(operations, list):
        raise ProofreadError(
            f"load_operations: {path} must hold a JSON list of operations; got {type(operations).__name__}"
        )
    return operations


# Keys of each operation besides "op" (required, optional).
_KEYS = {
    "merge": ({"ids"}, set()),
    "split": ({"id", "points"}, set()),
    "paint": ({"id"}, {"start", "stop", "mask"}),
    "erase": (set(), {"start", "stop", "mask"}),
    "correct": ({"id"}, set()),
}


def apply_operations(
    source: Proposal | Corrected | ArrayLike,
    operations: list[dict[str, Any]],
    *,
    base_dir: str | os.PathLike | None = None,
) -> Corrected:
    """Applies `operations` (see the module docstring) to a proposal, corrected labels or a label array.

    Never modifies `source`. Splits use the merge history of a `Proposal`; `base_dir` is where
    relative mask paths are read from (default: the working directory). Raises ProofreadError
    naming the index of the first operation that cannot be applied.
    """
    if isinstance(operations, (str, bytes, dict)) or not isinstance(operations, (list, tuple)):
        raise fail("apply_operations", "operations", "a list of operation dicts", type(operations).__name__)
    state = _State.start(source)
    checked = [_check(i, op, state.labels.shape, base_dir) for i, op in enumerate(operations)]
    for i, op in enumerate(checked):
        getattr(state, "op_" + op["op"])(i, op)
    return Corrected(
        labels=state.labels, verified=sorted(state.verified), merged=dict(state.merged), split=dict(state.split)
    )


def _error(index, op, message):
    name = op.get("op") if isinstance(op, dict) else None
    return ProofreadError(f"operation {index}" + (f" ({name})" if name in OPS else "") + f": {message}")


def _positive_id(index, op, value, key):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise _error(index, op, f"`{key}` must be a positive integer id; got {value!r}")
    return int(value)


def _point(index, op, value, what):
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 3
        or not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in value)
    ):
        raise _error(index, op, f"{what} must be 3 integers [z, y, x]; got {value!r}")
    return tuple(int(c) for c in value)


def _check(index, op, shape, base_dir):
    """The operation with its arguments checked and converted (ids int, points tuples, region a slice or mask)."""
    if not isinstance(op, dict):
        raise _error(index, op, f"must be an object with an 'op'; got {op!r}")
    name = op.get("op")
    if name not in OPS:
        raise _error(index, op, f"unknown op {name!r}; expected one of {', '.join(OPS)}")
    required, optional = _KEYS[name]
    missing = sorted(required - op.keys())
    unknown = sorted(op.keys() - required - optional - {"op"})
    if missing:
        raise _error(index, op, f"missing {', '.join(repr(k) for k in missing)}")
    if unknown:
        raise _error(index, op, f"unknown key {', '.join(repr(k) for k in unknown)}")
    out = {"op": name}
    if "id" in required:
        out["id"] = _positive_id(index, op, op["id"], "id")
    if name == "merge":
        ids = op["ids"]
        if not isinstance(ids, (list, tuple)) or len(ids) < 2:
            raise _error(index, op, f"`ids` must be a list of at least two ids; got {ids!r}")
        out["ids"] = [_positive_id(index, op, i, "ids") for i in ids]
    if name == "split":
        points = op["points"]
        if not isinstance(points, (list, tuple)) or len(points) < 2:
            raise _error(index, op, f"`points` must be a list of at least two points [z, y, x]; got {points!r}")
        out["points"] = [_point(index, op, p, f"point {k}") for k, p in enumerate(points)]
        for k, p in enumerate(out["points"]):
            if not all(0 <= c < s for c, s in zip(p, shape)):
                raise _error(index, op, f"point {k} {list(p)} is outside the volume of shape {list(shape)}")
        if len(set(out["points"])) < len(out["points"]):
            raise _error(index, op, f"the points must differ; got {[list(p) for p in out['points']]}")
    if name in ("paint", "erase"):
        out["region"] = _region(index, op, shape, base_dir)
    return out


def _region(index, op, shape, base_dir):
    """A tuple of slices for a box, or a boolean mask."""
    has_box = "start" in op or "stop" in op
    if has_box == ("mask" in op):
        raise _error(index, op, "give either a box ('start' and 'stop') or a 'mask'")
    if has_box:
        if "start" not in op or "stop" not in op:
            raise _error(index, op, "a box needs both 'start' and 'stop'")
        start = _point(index, op, op["start"], "`start`")
        stop = _point(index, op, op["stop"], "`stop`")
        if not all(0 <= a < b <= s for a, b, s in zip(start, stop, shape)):
            raise _error(
                index,
                op,
                f"the box {list(start)}..{list(stop)} must lie in the volume of shape {list(shape)} "
                "with start < stop (stop excluded)",
            )
        return tuple(slice(a, b) for a, b in zip(start, stop))
    mask = op["mask"]
    if isinstance(mask, (str, os.PathLike)):
        path, dataset = split_dataset(mask)
        if base_dir is not None and not Path(path).is_absolute():
            path = str(Path(base_dir) / path)
        try:
            mask = read_volume(path, dataset)
        except (OSError, ValueError) as error:
            raise _error(index, op, f"cannot read the mask {op['mask']!r}: {error}") from None
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise _error(index, op, f"the mask must have the volume's shape {list(shape)}; got {list(mask.shape)}")
    return mask != 0


class _State:
    """Labels being corrected, with the record and, from a proposal, the fragments and merge history."""

    def __init__(self, labels, fragments, merges, verified, merged, split):
        self.labels, self.fragments, self.merges = labels, fragments, merges
        self.verified, self.merged, self.split = set(verified), dict(merged), dict(split)

    @classmethod
    def start(cls, source):
        if isinstance(source, Proposal):
            return cls(_as_labels(source.segmentation, "apply_operations"), source.fragments, source.merges, [], {}, {})
        if isinstance(source, Corrected):
            labels = _as_labels(source.labels, "apply_operations")
            return cls(labels, None, None, source.verified, source.merged, source.split)
        return cls(_as_labels(source, "apply_operations"), None, None, [], {}, {})

    # ids

    def resolve(self, i):
        """The id that `i` lives on as: itself, or the id it was (transitively) merged into."""
        seen = set()
        while i in self.merged and i not in seen:
            seen.add(i)
            i = self.merged[i]
        return i

    def present(self, i):
        return bool(np.any(self.labels == i))

    def known(self, index, op, i):
        """`i` resolved; ProofreadError when it is not in the labels."""
        resolved = self.resolve(i)
        if not self.present(resolved):
            via = f" (merged into {resolved})" if resolved != i else ""
            raise _error(index, op, f"unknown id {i}{via}: not in the labels")
        return resolved

    def new_id(self):
        used = [int(self.labels.max()) if self.labels.size else 0]
        used += list(self.merged) + list(self.split) + list(self.verified)
        return max(used) + 1

    def descends(self, i, parent):
        """Whether `i` is `parent` or was split off it (transitively)."""
        seen = set()
        while i != parent and i in self.split and i not in seen:
            seen.add(i)
            i = self.split[i]
        return i == parent

    # operations

    def op_merge(self, index, op):
        ids = sorted({self.known(index, op, i) for i in op["ids"]})
        keep = ids[0]
        for other in ids[1:]:
            self.labels[self.labels == other] = keep
            self.merged[other] = keep
            self.verified.discard(other)

    def op_correct(self, index, op):
        i = op["id"]
        if self.present(i):
            self.verified.add(i)
        elif i not in self.merged and i not in self.verified:  # merged away or verified then erased: done before
            raise _error(index, op, f"unknown id {i}: not in the labels")

    def op_paint(self, index, op):
        self.labels[op["region"]] = self.resolve(op["id"])

    def op_erase(self, index, op):
        self.labels[op["region"]] = 0

    def op_split(self, index, op):
        target = self.known(index, op, op["id"])
        points = op["points"]
        at = [int(self.labels[p]) for p in points]
        for k, (p, label) in enumerate(zip(points, at)):
            if not (label != 0 and self.descends(label, target)):
                raise _error(
                    index,
                    op,
                    f"point {k} {list(p)} is in id {label}, not in id {target}: the points must lie in one id",
                )
        # points in parts already separated (a repeated split) are left as they are
        for label in sorted(set(at)):
            group = [p for p, a in zip(points, at) if a == label]
            if len(group) > 1:
                self._split(label, group)

    def _split(self, label, points):
        region = self.labels == label
        frags = None if self.fragments is None else [int(self.fragments[p]) for p in points]
        if frags is not None and 0 not in frags and len(set(frags)) == len(frags):
            parts = _history_parts(self.fragments, self.merges, frags, region)
        else:
            parts = _watershed_parts(region, points)
        for part in parts:
            new = self.new_id()
            self.labels[part] = new
            self.split[new] = label


def _history_parts(fragments, merges, frags, region):
    """Masks of the parts of points 1.. (point 0 keeps the rest): each point's side of the merge that first
    joined its fragment to an earlier point's (its whole final region when never joined), within `region`."""
    parts = []
    for i in range(1, len(frags)):
        side = _side_before_joining(merges, frags[i], set(frags[:i]))
        parts.append(region & np.isin(fragments, np.fromiter(side, np.uint64, len(side))))
    return parts


def _side_before_joining(merges, fragment, others):
    """Fragment labels of `fragment`'s region just before the first merge that joins it to a region holding one
    of `others` (after all merges if none does)."""
    parent: dict[int, int] = {}

    def find(a):
        while parent.get(a, a) != a:
            parent[a] = parent.get(parent[a], parent[a])  # path halving
            a = parent[a]
        return a

    for into, gone in np.asarray(merges, np.uint64).reshape(-1, 2).tolist():
        a, b = find(into), find(gone)
        mine = find(fragment)
        if mine in (a, b):
            other = b if mine == a else a
            if any(find(o) == other for o in others):
                break
        parent.setdefault(a, a)
        parent[b] = a
    root = find(fragment)
    return {label for label in set(parent) | {fragment} if find(label) == root}


def _watershed_parts(region, points):
    """Masks of the parts of points 1.. (point 0 keeps the rest): a seeded watershed of `region` from the
    points on its distance transform (the centres of the region flood first)."""
    from scipy.ndimage import distance_transform_edt

    from ..decode import seeded_watershed

    distance = distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1, 1:-1]  # the volume's faces are borders too
    landscape = 1.0 - distance / max(float(distance.max()), 1.0)
    markers = np.zeros(region.shape, np.int64)
    for k, p in enumerate(points):
        markers[p] = k + 1
    flooded = seeded_watershed(landscape.astype(np.float32), markers, mask=region)
    return [region & (flooded == k + 1) for k in range(1, len(points))]
