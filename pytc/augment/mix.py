"""Augmentations that combine data: CopyPaste within a sample, Mixup across a batch."""

from typing import Any

import numpy as np
from scipy import ndimage

from ..sample import LABEL
from ..validation import check_number
from ._mix import rotated_overlaps, rotation_sources
from .base import AUGMENTATIONS, Augmentation, Sample

ANGLES = np.deg2rad(np.arange(0, 360, 30))  # PyTorch Connectomics' candidate rotations


@AUGMENTATIONS.register()
class CopyPaste(Augmentation):
    """Pastes a flipped and/or rotated copy of the labelled objects where it overlaps them least (PyTorch
    Connectomics' CopyPasteAugmentor, for sparse objects such as mitochondria or synapses).

    The foreground is ``label > 0``, taken as one mask; samples whose foreground is empty or more than
    `aug_thres` of the volume are left alone. The candidates are the foreground rotated about the section
    centre by 0, 30, ..., 330 degrees in y-x (nearest voxel, nothing copied from outside the volume),
    with and without a z flip, except the identity: 23 copies. One of those with the least overlap with
    the original foreground is drawn at random (PyTorch Connectomics takes, among copies that do not
    overlap, the one whose centre is nearest the original's, which makes it deterministic). Copied voxels
    within `border` voxels (26-connected dilation) of the original foreground are dropped; the rest are
    pasted with their image values (every channel) and their label ids, so label ids after are a subset of
    ids before. PyTorch Connectomics changes the image only; here every label-like array takes the copy's
    values where the copy is pasted, so the targets describe the pasted objects too.

    The overlaps of the 23 candidates are counted by a numba kernel, in
    parallel over the candidates, without building the rotated volumes.

    Parameters
    ----------
    p : float
        Probability of applying it (PyTorch Connectomics: 0.8).
    aug_thres : float in [0, 1]
        Largest foreground fraction of the volume that is still augmented.
    border : int >= 0
        Gap kept between the pasted copy and the original foreground (PyTorch Connectomics: 3).

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.augment import CopyPaste
    >>> label = np.zeros((4, 32, 32), np.uint32); label[1:3, 2:10, 2:10] = 7
    >>> image = np.where(label > 0, 0.9, 0.1).astype(np.float32)
    >>> out = CopyPaste(p=1.0)({"image": image, "label": label}, np.random.default_rng(0))
    >>> int((out["label"] == 7).sum()) > int((label == 7).sum()), sorted(np.unique(out["label"]).tolist())
    (True, [0, 7])
    """

    def __init__(self, p: float = 0.8, aug_thres: float = 0.7, border: int = 3):
        super().__init__(p)
        name = type(self).__name__
        self.aug_thres = check_number(aug_thres, name, "aug_thres", 0, 1)
        self.border = check_number(border, name, "border", 0, integer=True)
        self._sources = {}  # (Y, X) -> (12, Y*X) rotation tables, built on first use

    def _tables(self, shape):
        if shape not in self._sources:
            self._sources[shape] = np.stack([rotation_sources(a, shape) for a in ANGLES])
        return self._sources[shape]

    def apply(self, sample: Sample, rng: np.random.Generator) -> Sample:
        if LABEL not in sample:
            raise KeyError("CopyPaste: the sample needs a 'label' array")
        label = sample[LABEL]
        n_z, h, w = label.shape
        foreground = np.ascontiguousarray(label > 0).reshape(n_z, h * w)
        count = np.count_nonzero(foreground)
        if count == 0 or count > self.aug_thres * foreground.size:
            return sample
        sources = self._tables((h, w))
        moved, overlap = rotated_overlaps(foreground.view(np.uint8), sources)
        valid = moved > 0
        valid[0, 0] = False  # the identity pastes onto itself
        if not valid.any():
            return sample
        least = overlap[valid].min()
        choices = np.argwhere(valid & (overlap == least))
        angle, flip = choices[int(rng.integers(len(choices)))]
        source = sources[angle]
        source_z = np.arange(n_z)[::-1] if flip else np.arange(n_z)
        inside = np.flatnonzero(source >= 0)
        copy = np.zeros_like(foreground)
        copy[:, inside] = foreground[source_z][:, source[inside]]
        if self.border:
            size = 2 * self.border + 1  # `border` 26-connected dilations = one cube of this side
            blocked = ndimage.maximum_filter(foreground.reshape(n_z, h, w), size, mode="constant", cval=0)
            copy &= ~blocked.reshape(n_z, h * w)
        else:
            copy &= ~foreground
        z, i = np.nonzero(copy)
        src_z, src_i = source_z[z], source[i]
        for key, value in list(sample.items()):
            if not isinstance(value, np.ndarray):
                continue
            out = value.copy()
            flat = out.reshape(out.shape[:-3] + (n_z, h * w))  # a view of the copy
            flat[..., z, i] = value.reshape(flat.shape)[..., src_z, src_i]
            sample[key] = out
        return sample


class Mixup:
    """Mixup across a batch (PyTorch Connectomics' MixupAugmentor): `num_aug` volumes of the batch, drawn
    without replacement, each become ``ratio * itself + (1 - ratio) * another volume of the batch``, with
    ratio uniform in [min_ratio, max_ratio] and the other volume drawn among the rest of the batch.

    This is a *batch* transform, not an `Augmentation`: a sample-level augmentation never sees the other
    samples, so Mixup is not part of `Compose` pipelines. Call `mix_batch` on the collated batch (in the
    training step or a collate function). Labels are left unchanged: each mixed volume keeps its own
    targets (the other volume is a minority distraction, ratio >= 0.7 by default). Every mix reads the
    volumes as they were before any mixing (PyTorch Connectomics mixes in place, so a volume mixed first can
    feed a later mix).

    Parameters
    ----------
    min_ratio, max_ratio : float, 0 <= min_ratio <= max_ratio <= 1
        Range of the weight of the volume being mixed.
    num_aug : int >= 0
        Number of volumes mixed per batch (at most the batch size).

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.augment import Mixup
    >>> batch = np.stack([np.full((1, 2, 4, 4), i, np.float32) for i in range(4)])  # (B, C, Z, Y, X)
    >>> out = Mixup(num_aug=2).mix_batch(batch, np.random.default_rng(0))
    >>> sum(not np.array_equal(a, b) for a, b in zip(out, batch))
    2
    """

    def __init__(self, min_ratio: float = 0.7, max_ratio: float = 0.9, num_aug: int = 2):
        name = type(self).__name__
        self.min_ratio = check_number(min_ratio, name, "min_ratio", 0, 1)
        self.max_ratio = check_number(max_ratio, name, "max_ratio", self.min_ratio, 1)
        self.num_aug = check_number(num_aug, name, "num_aug", 0, integer=True)

    def draw(self, batch: int, rng: np.random.Generator) -> list[tuple[int, int, float]]:
        """The mixes for a batch of `batch` volumes: a list of (index, other index, ratio)."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"{type(self).__name__}: `rng` must be a numpy.random.Generator; got {type(rng).__name__}")
        if batch < 2:
            return []
        mixes = []
        for major in rng.choice(batch, min(self.num_aug, batch), replace=False):
            minor = int(rng.integers(batch - 1))
            minor += minor >= major  # any volume but `major`
            mixes.append((int(major), minor, float(rng.uniform(self.min_ratio, self.max_ratio))))
        return mixes

    def mix_batch(self, images: Any, rng: np.random.Generator) -> Any:
        """A new batch with the mixes drawn from `rng` applied.

        `images` is a (B, ...) numpy array or torch tensor (PyTorch Connectomics: (B, C, Z, Y, X)); the result
        has its type, dtype and device (integer images rounded and clipped to their range). The input is not
        modified.
        """
        is_torch = not isinstance(images, np.ndarray) and hasattr(images, "clone")
        if not is_torch and not isinstance(images, np.ndarray):
            raise TypeError(
                f"{type(self).__name__}: `images` must be a numpy array or a torch tensor; got {type(images).__name__}"
            )
        if images.ndim < 2:
            raise ValueError(
                f"{type(self).__name__}: `images` must have a batch axis and at least one more; got "
                f"shape {tuple(images.shape)}"
            )
        out = images.clone() if is_torch else images.copy()
        for major, minor, ratio in self.draw(len(images), rng):
            if is_torch:
                mixed = images[major].float() * ratio + images[minor].float() * (1 - ratio)
                if not images.dtype.is_floating_point:
                    info = __import__("torch").iinfo(images.dtype)
                    mixed = mixed.round().clamp(info.min, info.max)
                out[major] = mixed.to(images.dtype)
            else:
                work = np.float64 if images.dtype == np.float64 else np.float32
                mixed = images[major].astype(work) * ratio + images[minor].astype(work) * (1 - ratio)
                if np.issubdtype(images.dtype, np.integer):
                    info = np.iinfo(images.dtype)
                    mixed = np.clip(np.rint(mixed), info.min, info.max)
                out[major] = mixed.astype(images.dtype)
        return out

    __call__ = mix_batch

    def __repr__(self):
        return f"Mixup(min_ratio={self.min_ratio!r}, max_ratio={self.max_ratio!r}, num_aug={self.num_aug!r})"


def mixup(
    images: Any, rng: np.random.Generator, min_ratio: float = 0.7, max_ratio: float = 0.9, num_aug: int = 2
) -> Any:
    """``Mixup(min_ratio, max_ratio, num_aug).mix_batch(images, rng)``: see `Mixup`."""
    return Mixup(min_ratio, max_ratio, num_aug).mix_batch(images, rng)
