"""`VolumeDataset`: training crops and test-mode windows over several EM volumes, read lazily by region.

Sampling (reading regions, choosing crops, rejection) is in `pytc.data.sampling`, the DataLoader in
`pytc.data.loader`, the window grid in `pytc.geometry`.
"""

import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..geometry import grid
from ..sample import IMAGE, LABEL, MASK, POSITION, TARGET, WEIGHT
from ..validation import as_shape, check_choice, check_number, fail
from .io import open_volume, split_dataset
from .normalize import Normalization
from .sampling import (
    accept_crop,
    random_start,
    random_valid_voxel,
    read_region,
    start_around,
    valid_counts,
    volume_probabilities,
    widen_borders,
)
from .targets import TargetSpecs, build_targets, spec_channels

TRAIN_LENGTH = 2**20  # default epoch length of a training VolumeDataset (see its `length`)


class VolumeDataset:
    """Samples from one or more image volumes, with labels and valid masks.

    Parameters
    ----------
    images : path, array or list of them
        (Z, Y, X) volumes; paths (``"PATH[:DATASET]"`` strings or path objects) are opened lazily in each
        process (see `pytc.data.open_volume`).
    labels, valid_masks : same, optional
        One per image, same shape. Valid masks are nonzero where labels can be trusted. With valid masks, training
        crops are drawn around the valid voxels: a valid voxel uniformly among all volumes' valid voxels, then a
        crop whose sample contains it (so labels that cover a few small patches of a large volume are found at
        once); a volume without valid voxels is never drawn.
    sample_shape : 3 ints, or 2 ints for 2D samples from 3D volumes
    mode : 'train' or 'test'
        train: random crops (a volume is chosen with probability proportional to its size), read with the
        augmentation's margins, augmented, center-cropped to `sample_shape`, with targets.
        Item i is drawn from its own random stream (seeded by `seed` and i), so samples do not depend on
        which process or DataLoader worker draws them; any index >= 0 is valid, and `len` is one epoch.
        test: a sliding-window grid with `stride` (default: half the sample), the last window of each axis
        pushed back inside the volume (`pytc.geometry.grid`, as inference's `sliding_windows`); items carry
        'position' = (volume index, z, y, x).
    augment : `pytc.augment.Compose` or callable ``augment(sample, rng) -> sample``, optional
        The dataset owns the shape, the pipeline the crop: the dataset reads ``augment.input_shape(sample_shape)``
        voxels (`read_shape`: the sample plus every augmentation's margin) and calls
        ``augment.with_output_shape(sample_shape)``, which crops once, after augmenting, to `sample_shape` (a
        `Compose` built with another `output_shape` is a ValueError). A plain callable gets `sample_shape` crops
        and must return arrays of that shape. Used in train mode only.
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

    Items are dicts (keys in `pytc.sample`): 'image' (1, Z, Y, X) float32 (in [0, 1] with the default
    normalisation); with targets 'target' (C, Z, Y, X) float32 and 'weight' (C, Z, Y, X) float32, whose channel
    ranges are `target_channels`; with labels but no targets 'label'; in test mode 'position'. 2D samples drop
    the z axis, and their targets are those of 2D labels (e.g. 2 affinity channels by default). Without
    augmentation a training crop is an exact crop of the input volume.

    Attributes
    ----------
    target_channels : list of (name, start, stop), or None without targets
        The channel range of each target spec in the items' 'target' and 'weight', as `build_targets` returns
        them; the criterion's task layout must agree (`pytc.train` checks it).
    read_shape : the spatial shape read for one training sample.
    """

    def __init__(
        self,
        images: Any,
        labels: Any = None,
        *,
        sample_shape: Sequence[int],
        mode: str = "train",
        augment: Callable[[dict, np.random.Generator], dict] | None = None,
        targets: TargetSpecs | None = None,
        valid_masks: Any = None,
        stride: Sequence[int] | None = None,
        length: int | None = None,
        min_foreground: int = 0,
        reject_p: float = 0.95,
        min_instances: int = 0,
        min_valid: float = 0.0,
        erode_border: int = 0,
        pad: Sequence[int] = (0, 0, 0),
        normalize: str | dict | Normalization = "max",
        seed: int = 0,
        max_tries: int = 100,
    ):
        fn = "VolumeDataset"
        self.images = _as_list(images)
        self.labels = _as_list(labels) if labels is not None else None
        self.valid_masks = _as_list(valid_masks) if valid_masks is not None else None
        for name, values in (("labels", self.labels), ("valid_masks", self.valid_masks)):
            if values is not None and len(values) != len(self.images):
                raise fail(fn, name, f"one entry per image ({len(self.images)})", len(values))
        self.mode = check_choice(mode, fn, "mode", ("train", "test"))
        shape = as_shape(sample_shape, fn, "sample_shape", ndim=(2, 3))
        self.two_d = len(shape) == 2
        self.sample_shape = (1,) + shape if self.two_d else shape
        self.augment = _pipeline(augment, self.sample_shape)
        if targets is not None and self.labels is None:
            raise ValueError("VolumeDataset: `targets` need `labels`")
        self.targets = targets
        self.target_channels = None if targets is None else spec_channels(targets, 2 if self.two_d else 3)
        self.pad = as_shape(pad, fn, "pad", minimum=0)
        self.reject_p = float(check_number(reject_p, fn, "reject_p", 0, 1))
        self.min_valid = float(check_number(min_valid, fn, "min_valid", 0, 1))
        self.min_foreground, self.min_instances = int(min_foreground), int(min_instances)
        self.erode_border, self.max_tries = int(erode_border), int(max_tries)
        self.seed = int(check_number(seed, fn, "seed", 0, integer=True))
        self._opened = None  # (pid, volumes): opened lazily, once per process

        shapes = [tuple(self._volumes()[0][i].shape) for i in range(len(self.images))]
        for i, shape in enumerate(shapes):
            if len(shape) != 3:
                raise fail(fn, f"images[{i}]", "3D (Z, Y, X)", f"shape {shape}")
            for name, group in (("labels", 1), ("valid_masks", 2)):
                other = self._volumes()[group]
                if other is not None and tuple(other[i].shape) != shape:
                    raise ValueError(
                        f"VolumeDataset: {name}[{i}] has shape {tuple(other[i].shape)}; image {i} has {shape}"
                    )
        for i, shape in enumerate(shapes):
            if any(p >= n for p, n in zip(self.pad, shape)):
                raise ValueError(
                    f"VolumeDataset: `pad` {self.pad} must be smaller than every volume along each axis "
                    f"(reflect padding); volume {i} has shape {shape}"
                )
        self.shapes = [tuple(n + 2 * p for n, p in zip(s, self.pad)) for s in shapes]  # padded
        self.normalize = Normalization.from_spec(normalize)
        self.intensity = [self.normalize.fit(volume) for volume in self._volumes()[0]]  # per volume
        if mode == "train":
            read = self.read_shape
            for i, s in enumerate(self.shapes):
                if any(n < r for n, r in zip(s, read)):
                    raise ValueError(
                        f"VolumeDataset: volume {i} (padded shape {s}) is smaller than the crop {read} "
                        f"needed for sample_shape {self.sample_shape}; add `pad` or use smaller samples"
                    )
            self.volume_p = volume_probabilities(self.shapes, read)
            self.valid_counts = None
            if self.valid_masks is not None:  # draw around valid voxels: count them per block, once
                self.valid_counts = [valid_counts(mask) for mask in self._volumes()[2]]
                totals = np.array([c.sum() for c in self.valid_counts], float)
                if totals.sum() == 0:
                    raise fail(fn, "valid_masks", "nonzero somewhere (the labelled voxels)", "all zero")
                self.volume_p = totals / totals.sum()
            self.length = int(length) if length else TRAIN_LENGTH
        else:
            if stride is None:
                self.stride = tuple(max(1, s // 2) for s in self.sample_shape)
            else:
                self.stride = as_shape(stride, fn, "stride")
            for shape in self.shapes:
                if any(n < k for n, k in zip(shape, self.sample_shape)):
                    raise ValueError(
                        f"VolumeDataset: a volume of shape {shape} is smaller than sample_shape "
                        f"{self.sample_shape}; add `pad`"
                    )
            self.positions = [
                (i,) + p for i, s in enumerate(self.shapes) for p in grid(s, self.sample_shape, self.stride)
            ]
            self.length = len(self.positions)

    @property
    def read_shape(self) -> tuple[int, ...]:
        """Spatial shape read for one training sample: `sample_shape` plus the augmentation's margins."""
        if self.mode == "train" and self.augment is not None and hasattr(self.augment, "input_shape"):
            return tuple(self.augment.input_shape(self.sample_shape))
        return self.sample_shape

    def _volumes(self):
        if self._opened is None or self._opened[0] != os.getpid():

            def load(items):
                return (
                    None
                    if items is None
                    else [
                        open_volume(*split_dataset(v))
                        if isinstance(v, str)
                        else open_volume(v)
                        if isinstance(v, os.PathLike)
                        else v
                        for v in items
                    ]
                )

            self._opened = (os.getpid(), (load(self.images), load(self.labels), load(self.valid_masks)))
        return self._opened[1]

    def __getstate__(self):  # open volumes (h5py files) stay in the process that opened them
        state = dict(self.__dict__)
        state["_opened"] = None
        return state

    def __len__(self) -> int:
        return self.length

    def _read(self, index, start, shape):
        start = tuple(s - p for s, p in zip(start, self.pad))  # coordinates in the unpadded volume
        images, labels, masks = self._volumes()
        sample = {IMAGE: read_region(images[index], start, shape)}
        if labels is not None:
            sample[LABEL] = read_region(labels[index], start, shape)
        if masks is not None:
            sample[MASK] = read_region(masks[index], start, shape).astype(bool)
        return sample

    def _draw(self, rng):
        read = self.read_shape
        for _ in range(self.max_tries):
            index = int(rng.choice(len(self.shapes), p=self.volume_p))
            if self.valid_counts is None:
                start = random_start(rng, self.shapes[index], read)
            else:
                voxel = random_valid_voxel(rng, self._volumes()[2][index], self.valid_counts[index])
                voxel = tuple(v + p for v, p in zip(voxel, self.pad))  # padded coordinates
                start = start_around(rng, voxel, self.shapes[index], read, self.sample_shape)
            sample = self._read(index, start, read)
            if accept_crop(sample, rng, self.min_foreground, self.reject_p, self.min_instances, self.min_valid):
                return index, sample
        warnings.warn(
            f"VolumeDataset: no crop met the rejection criteria in {self.max_tries} tries; using the last", stacklevel=2
        )
        return index, sample

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        if self.mode == "test":
            if not 0 <= i < self.length:
                raise IndexError(f"VolumeDataset: index {i} out of range for length {self.length}")
            index, *start = self.positions[i]
            sample = self._read(index, tuple(start), self.sample_shape)
            item = self._finish(sample, index)
            item[POSITION] = np.array(self.positions[i], dtype=np.int64)
            return item
        if i < 0:
            raise IndexError(f"VolumeDataset: index {i} must be >= 0")
        rng = np.random.default_rng([self.seed, int(i)])  # the item's own stream
        index, sample = self._draw(rng)
        if self.augment is not None:
            sample = self.augment(sample, rng)  # a Compose crops to sample_shape; a plain callable keeps it
            for key, value in sample.items():
                if isinstance(value, np.ndarray) and value.shape[-3:] != self.sample_shape:
                    raise ValueError(
                        f"VolumeDataset: `augment` must return arrays of sample_shape "
                        f"{self.sample_shape}; got {key!r} of shape {value.shape}"
                    )
        return self._finish(sample, index)

    def _finish(self, sample, index):
        image = self.normalize.apply(sample[IMAGE], self.intensity[index])
        item = {IMAGE: image[np.newaxis]}
        label, mask = sample.get(LABEL), sample.get(MASK)
        if self.two_d:  # (1, Y, X) crops: drop z before building 2D targets
            item[IMAGE] = item[IMAGE][:, 0]
            label = None if label is None else label[0]
            mask = None if mask is None else mask[0]
        if label is not None:
            label = widen_borders(label[None] if self.two_d else label, self.erode_border)
            label = label[0] if self.two_d else label
            if self.targets is not None and self.mode == "train":
                item[TARGET], item[WEIGHT], _ = build_targets(label, self.targets, valid_mask=mask)
            else:
                item[LABEL] = label
        if mask is not None and WEIGHT not in item:
            item[MASK] = mask
        return {k: np.ascontiguousarray(v) for k, v in item.items()}


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _pipeline(augment, sample_shape):
    """The augmentation a VolumeDataset runs: a `Compose` set to return `sample_shape` crops, or a plain callable."""
    if augment is None or not hasattr(augment, "input_shape"):
        return augment
    if not hasattr(augment, "with_output_shape"):
        raise fail(
            "VolumeDataset",
            "augment",
            "a pipeline (`pytc.augment.Compose`: wrap a single augmentation in Compose([...])) or a plain callable",
            type(augment).__name__,
            TypeError,
        )
    return augment.with_output_shape(sample_shape)
