"""Training and inference datasets over several EM volumes, read lazily by region."""

import os
import warnings

import numpy as np
from scipy import ndimage

from .io import open_volume, split_dataset
from .normalize import Normalization


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _as_shape(name, shape, ndim=3):
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError:
        shape = ()
    if len(shape) != ndim or min(shape) < 1:
        raise ValueError(f"VolumeDataset: `{name}` must be {ndim} positive ints; got {shape}")
    return shape


def read_region(volume, start, shape, pad_mode="reflect"):
    """The region [start, start + shape) of a lazily read volume; parts outside are padded by
    reflection (or `pad_mode` for np.pad)."""
    lo = [max(0, s) for s in start]
    hi = [min(n, s + k) for n, s, k in zip(volume.shape, start, shape)]
    if any(l >= h for l, h in zip(lo, hi)):
        raise ValueError(f"read_region: region at {start} of shape {shape} misses the volume {volume.shape}")
    data = np.asarray(volume[tuple(slice(l, h) for l, h in zip(lo, hi))])
    pad = [(l - s, s + k - h) for s, k, l, h in zip(start, shape, lo, hi)]
    if any(a or b for a, b in pad):
        data = np.pad(data, pad, mode=pad_mode)
    return data


def widen_borders(label, radius):
    """Sets to 0 the voxels within `radius` (in y-x, per section) of another id: wider instance borders."""
    if radius <= 0:
        return label
    size = (1, 2 * radius + 1, 2 * radius + 1)
    border = ndimage.maximum_filter(label, size) != ndimage.minimum_filter(label, size)
    out = label.copy()
    out[border] = 0
    return out


TRAIN_LENGTH = 2**20  # default epoch length of a training VolumeDataset (see its `length`)


class VolumeDataset:
    """Samples from one or more image volumes, with labels and valid masks.

    Parameters
    ----------
    images : path, array or list of them
        (Z, Y, X) volumes; paths (``"PATH[:DATASET]"`` strings or path objects) are opened lazily in each
        process (see `pytc.data.open_volume`).
    labels, valid_masks : same, optional
        One per image, same shape. Valid masks are nonzero where labels can be trusted.
    sample_shape : 3 ints, or 2 ints for 2D samples from 3D volumes
    mode : 'train' or 'test'
        train: random crops (a volume is chosen with probability proportional to its size), read with the
        augmentation's margins, augmented, center-cropped to `sample_shape`, with targets.
        Item i is drawn from its own random stream (seeded by `seed` and i), so samples do not depend on
        which process or DataLoader worker draws them; any index >= 0 is valid, and `len` is one epoch.
        test: a sliding-window grid with `stride` (default: half the sample), the last window of each axis
        pushed back inside the volume; items carry 'position' = (volume index, z, y, x).
    augment : callable ``augment(sample, rng) -> sample``, optional
        E.g. `pytc.augment.Compose`; its ``input_shape(output_shape)``, if present, sets the crop read.
    targets : list of target specs, optional
        As for `pytc.data.targets.build_targets`, e.g. ``["affinity"]`` or
        ``[{"name": "affinity", "offsets": [...]}, "boundary"]``.
    length : int, optional
        Items of one pass over the dataset in train mode, i.e. what ``len()`` reports to a DataLoader. Training
        items are random crops drawn from their index's random stream, so any index is valid and the length
        only says where a DataLoader epoch ends. Default `TRAIN_LENGTH` (2**20, about a million crops), for
        iteration-based training: one epoch outlasts a usual run, so a loop simply stops after its iteration
        count (pytc's trainer draws its own indices and ignores it). Pass the number of crops you want per
        epoch to train by epochs.
    min_foreground, reject_p : rejection sampling: a crop with fewer than `min_foreground` labelled voxels is
        redrawn with probability `reject_p`.
    min_instances : a crop with fewer distinct nonzero label ids is always redrawn.
    min_valid : a crop whose valid-mask fraction is below this is always redrawn.
    erode_border : radius by which instance borders are widened (set to 0) before building targets.
    pad : 3 ints, reflect padding added around each volume (in train and test mode).
    normalize : str, dict or `pytc.data.Normalization`
        How intensities become the float32 input, fitted once per volume; default 'max' (uint8 / 255).
    seed : int >= 0, seed of the sampling streams.

    Items are dicts: 'image' (1, Z, Y, X) float32 (in [0, 1] with the default normalisation); with targets
    'target' (C, Z, Y, X) float32 and
    'weight' (C, Z, Y, X) float32; with labels but no targets 'label'; in test mode 'position'. 2D samples drop
    the z axis. Without augmentation a training crop is an exact crop of the input volume.
    """

    def __init__(self, images, labels=None, *, sample_shape, mode="train", augment=None, targets=None,
                 valid_masks=None, stride=None, length=None, min_foreground=0, reject_p=0.95, min_instances=0,
                 min_valid=0.0, erode_border=0, pad=(0, 0, 0), normalize="max", seed=0, max_tries=100):  # fmt: skip
        self.images = _as_list(images)
        self.labels = _as_list(labels) if labels is not None else None
        self.valid_masks = _as_list(valid_masks) if valid_masks is not None else None
        for name, values in (("labels", self.labels), ("valid_masks", self.valid_masks)):
            if values is not None and len(values) != len(self.images):
                raise ValueError(f"VolumeDataset: `{name}` must have one entry per image ({len(self.images)}); "
                                 f"got {len(values)}")
        if mode not in ("train", "test"):
            raise ValueError(f"VolumeDataset: `mode` must be 'train' or 'test'; got {mode!r}")
        self.mode = mode
        self.two_d = len(tuple(sample_shape)) == 2
        self.sample_shape = (1,) + _as_shape("sample_shape", sample_shape, 2) if self.two_d else \
            _as_shape("sample_shape", sample_shape)  # fmt: skip
        self.augment = augment
        if targets is not None and self.labels is None:
            raise ValueError("VolumeDataset: `targets` need `labels`")
        self.targets = targets
        self.pad = tuple(int(p) for p in pad)
        if len(self.pad) != 3 or min(self.pad) < 0:
            raise ValueError(f"VolumeDataset: `pad` must be 3 non-negative ints; got {pad}")
        if not 0 <= reject_p <= 1 or not 0 <= min_valid <= 1:
            raise ValueError(f"VolumeDataset: `reject_p` and `min_valid` must be in [0, 1]; got {reject_p}, {min_valid}")
        self.min_foreground, self.reject_p = int(min_foreground), float(reject_p)
        self.min_instances, self.min_valid = int(min_instances), float(min_valid)
        self.erode_border, self.max_tries = int(erode_border), int(max_tries)
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"VolumeDataset: `seed` must be an int >= 0; got {seed!r}")
        self.seed = int(seed)
        self._opened = None  # (pid, volumes): opened lazily, once per process

        shapes = [tuple(self._volumes()[0][i].shape) for i in range(len(self.images))]
        for i, shape in enumerate(shapes):
            if len(shape) != 3:
                raise ValueError(f"VolumeDataset: image {i} must be 3D (Z, Y, X); got shape {shape}")
            for name, group in (("labels", 1), ("valid_masks", 2)):
                other = self._volumes()[group]
                if other is not None and tuple(other[i].shape) != shape:
                    raise ValueError(f"VolumeDataset: {name}[{i}] has shape {tuple(other[i].shape)}; "
                                     f"image {i} has {shape}")
        for i, shape in enumerate(shapes):
            if any(p >= n for p, n in zip(self.pad, shape)):
                raise ValueError(f"VolumeDataset: `pad` {self.pad} must be smaller than every volume along each axis "
                                 f"(reflect padding); volume {i} has shape {shape}")  # fmt: skip
        self.shapes = [tuple(n + 2 * p for n, p in zip(s, self.pad)) for s in shapes]  # padded
        self.normalize = Normalization.from_spec(normalize)
        self.intensity = [self.normalize.fit(volume) for volume in self._volumes()[0]]  # per volume
        read = self.read_shape
        if mode == "train":
            for i, s in enumerate(self.shapes):
                if any(n < r for n, r in zip(s, read)):
                    raise ValueError(f"VolumeDataset: volume {i} (padded shape {s}) is smaller than the crop {read} "
                                     f"needed for sample_shape {self.sample_shape}; add `pad` or use smaller samples")
            sizes = np.array([np.prod([n - r + 1 for n, r in zip(s, read)]) for s in self.shapes], float)
            self.volume_p = sizes / sizes.sum()
            self.length = int(length) if length else TRAIN_LENGTH
        else:
            self.stride = self.sample_shape if stride is None else _as_shape("stride", stride)
            if stride is None:
                self.stride = tuple(max(1, s // 2) for s in self.sample_shape)
            self.positions = [(i,) + p for i, s in enumerate(self.shapes) for p in self._grid(s)]
            self.length = len(self.positions)

    @property
    def read_shape(self):
        """Spatial shape read for one training sample: `sample_shape` plus the augmentation's margins."""
        if self.mode == "train" and self.augment is not None and hasattr(self.augment, "input_shape"):
            return tuple(self.augment.input_shape(self.sample_shape))
        return self.sample_shape

    def _grid(self, shape):
        axes = []
        for n, k, s in zip(shape, self.sample_shape, self.stride):
            if n < k:
                raise ValueError(f"VolumeDataset: a volume of shape {shape} is smaller than sample_shape "
                                 f"{self.sample_shape}; add `pad`")
            starts = list(range(0, n - k + 1, s))
            if starts[-1] != n - k:
                starts.append(n - k)  # the last window pushed back inside the volume
            axes.append(starts)
        return [(z, y, x) for z in axes[0] for y in axes[1] for x in axes[2]]

    def _volumes(self):
        if self._opened is None or self._opened[0] != os.getpid():
            def load(items):
                return None if items is None else [
                    open_volume(*split_dataset(v)) if isinstance(v, str) else
                    open_volume(v) if isinstance(v, os.PathLike) else v for v in items]  # fmt: skip

            self._opened = (os.getpid(), (load(self.images), load(self.labels), load(self.valid_masks)))
        return self._opened[1]

    def __getstate__(self):  # open volumes (h5py files) stay in the process that opened them
        state = dict(self.__dict__)
        state["_opened"] = None
        return state

    def __len__(self):
        return self.length

    def _read(self, index, start, shape):
        start = tuple(s - p for s, p in zip(start, self.pad))  # coordinates in the unpadded volume
        images, labels, masks = self._volumes()
        sample = {"image": read_region(images[index], start, shape)}
        if labels is not None:
            sample["label"] = read_region(labels[index], start, shape)
        if masks is not None:
            sample["mask"] = read_region(masks[index], start, shape).astype(bool)
        return sample

    def _accept(self, sample, rng):
        label, mask = sample.get("label"), sample.get("mask")
        if mask is not None and mask.mean() < self.min_valid:
            return False
        if label is not None and self.min_instances > 0:
            if len(np.unique(label[label != 0])) < self.min_instances:
                return False
        if label is not None and self.min_foreground > 0 and np.count_nonzero(label) < self.min_foreground:
            return rng.random() >= self.reject_p
        return True

    def _draw(self, rng):
        read = self.read_shape
        for _ in range(self.max_tries):
            index = int(rng.choice(len(self.shapes), p=self.volume_p))
            start = tuple(int(rng.integers(0, n - r + 1)) for n, r in zip(self.shapes[index], read))
            sample = self._read(index, start, read)
            if self._accept(sample, rng):
                return index, sample
        warnings.warn(f"VolumeDataset: no crop met the rejection criteria in {self.max_tries} tries; using the last")
        return index, sample

    def __getitem__(self, i):
        if self.mode == "test":
            if not 0 <= i < self.length:
                raise IndexError(f"VolumeDataset: index {i} out of range for length {self.length}")
            index, *start = self.positions[i]
            sample = self._read(index, tuple(start), self.sample_shape)
            item = self._finish(sample, index)
            item["position"] = np.array(self.positions[i], dtype=np.int64)
            return item
        if i < 0:
            raise IndexError(f"VolumeDataset: index {i} must be >= 0")
        rng = np.random.default_rng([self.seed, int(i)])  # the item's own stream
        index, sample = self._draw(rng)
        if self.augment is not None:
            sample = self.augment(sample, rng)
        from ..augment.base import center_crop

        sample = {k: center_crop(v, self.sample_shape) for k, v in sample.items()}
        return self._finish(sample, index)

    def _finish(self, sample, index):
        image = self.normalize.apply(sample["image"], self.intensity[index])
        item = {"image": image[np.newaxis]}
        label, mask = sample.get("label"), sample.get("mask")
        if label is not None:
            label = widen_borders(label, self.erode_border)
            if self.targets is not None and self.mode == "train":
                from .targets import build_targets

                target, weight, _ = build_targets(label, self.targets, valid_mask=mask)
                item["target"], item["weight"] = target, weight
            else:
                item["label"] = label
        if mask is not None and "weight" not in item:
            item["mask"] = mask
        if self.two_d:
            item = {k: v[:, 0] if v.ndim == 4 else v[0] for k, v in item.items()}
        return {k: np.ascontiguousarray(v) for k, v in item.items()}


def build_dataloader(dataset, batch_size=1, num_workers=0, *, shuffle=False, seed=0, pin_memory=True,
                     persistent_workers=True, start_method="forkserver", **kwargs):  # fmt: skip
    """A torch DataLoader over `dataset`, with workers started safely and a seeded shuffle order.

    Training items of a `VolumeDataset` come from their index's own random stream, so samples are
    reproducible run to run and the same whatever the number of workers. Memory is pinned when a GPU is
    present. Workers start with `start_method` 'forkserver' by default: forking a process whose OpenMP or
    numba threads have run is unsafe (GNU OpenMP's fork handler terminates the child).
    """
    import torch

    if num_workers and start_method != "fork":
        _require_main_guard(num_workers)
    extra = {"multiprocessing_context": start_method, "persistent_workers": persistent_workers} if num_workers else {}
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed), pin_memory=pin_memory and torch.cuda.is_available(),
        **extra, **kwargs)  # fmt: skip


def _require_main_guard(num_workers):
    """Raise when called from the top level of a script without ``if __name__ == "__main__":``.

    Workers started by 'forkserver' or 'spawn' import the main script again; unguarded, its top level would start
    workers of its own, and the DataLoader would die with "worker exited unexpectedly".
    """
    import sys

    path = getattr(sys.modules.get("__main__"), "__file__", None)
    frame = sys._getframe(2)  # the caller of build_dataloader, then outwards to the script's top level
    while frame is not None and not (frame.f_code.co_name == "<module>" and frame.f_globals["__name__"] == "__main__"):
        frame = frame.f_back
    if frame is None or path is None or not path.endswith(".py"):  # not run from a script's top level (-c, a REPL)
        return
    try:
        source = open(path, encoding="utf-8").read()
    except OSError:
        return
    if not is_main_guarded(source, frame.f_lineno):
        raise RuntimeError(
            f"build_dataloader: `num_workers`={num_workers} starts worker processes that re-run the script {path}, "
            f"and line {frame.f_lineno} runs at its top level: put the script's code under "
            f"`if __name__ == \"__main__\":` (or pass num_workers=0)")


def is_main_guarded(source, line):
    """Whether `line` of the script `source` is inside an ``if __name__ == "__main__":`` block (True when the
    source does not parse: nothing to say then)."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return True
    for node in tree.body:
        if node.lineno <= line <= node.end_lineno:
            test = ast.unparse(node.test) if isinstance(node, ast.If) else ""
            return "__name__" in test and "__main__" in test
    return False
