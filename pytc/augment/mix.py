"""Augmentations that combine data: CopyPaste within a sample, Mixup across a batch."""

import numpy as np
from scipy import ndimage

from ._warp import rotation_matrix, warp_slices
from .base import IMAGE, Augmentation, check_range, per_channel


class CopyPaste(Augmentation):
    """Pastes a copy of the labelled objects, flipped in z and/or rotated in y-x, where it overlaps them least
    (PyTorch Connectomics' copy-paste for sparse objects such as mitochondria or synapses).

    The foreground is ``label > 0``; samples whose foreground exceeds `aug_thres` of the volume are left
    alone. Among rotations by multiples of 30 degrees, with and without a z flip, one of those with the least
    overlap with the original foreground is drawn at random (PyTorch Connectomics takes the one whose centre
    is nearest the original's, which makes the augmentation deterministic). Copied
    voxels within `border` voxels of the original foreground are dropped, the rest pasted with their image
    values and their label ids (so ids after are a subset of ids before). Other label-like arrays keep their
    values where nothing is pasted and take the copy's values where it is.
    """

    def __init__(self, p=0.8, aug_thres=0.7, border=3):
        super().__init__(p)
        name = type(self).__name__
        self.aug_thres = check_range(name, "aug_thres", aug_thres, 0, 1)
        self.border = check_range(name, "border", border, 0, integer=True)

    @staticmethod
    def _transform(volume, flip, matrix, order):
        volume = volume[::-1] if flip else volume
        return warp_slices(np.ascontiguousarray(volume), matrix, order=order)

    def apply(self, sample, rng):
        if "label" not in sample:
            raise KeyError("CopyPaste: the sample needs a 'label' array")
        label = sample["label"]
        foreground = label > 0
        if not foreground.any() or foreground.mean() > self.aug_thres:
            return sample
        center = (np.array(label.shape[1:]) - 1) / 2.0
        candidates = []
        for flip in (False, True):
            for angle in range(0, 360, 30):
                if angle == 0 and not flip:
                    continue  # the identity pastes onto itself
                matrix = rotation_matrix(np.deg2rad(angle), center, center)
                moved = self._transform(foreground, flip, matrix, 0)
                if moved.any():
                    candidates.append((int(np.count_nonzero(moved & foreground)), flip, matrix, moved))
        if not candidates:
            return sample
        least = min(c[0] for c in candidates)
        best = [c for c in candidates if c[0] == least]
        _, flip, matrix, moved = best[int(rng.integers(len(best)))]
        blocked = ndimage.binary_dilation(foreground, ndimage.generate_binary_structure(3, 3), self.border) \
            if self.border else foreground  # fmt: skip
        paste = moved & ~blocked
        for key, value in list(sample.items()):
            if not isinstance(value, np.ndarray):
                continue
            if key == IMAGE:
                copy = per_channel(value, lambda a: self._transform(a, flip, matrix, 1))
                sample[key] = np.where(paste, copy, value)
            else:
                sample[key] = np.where(paste, self._transform(value, flip, matrix, 0), value)
        return sample


def mixup(images, rng, min_ratio=0.7, max_ratio=0.9, num_aug=2):
    """Mixup across a batch (PyTorch Connectomics' MixupAugmentor): `num_aug` randomly chosen volumes each
    become ``ratio * itself + (1 - ratio) * another volume of the batch``, ratio in [min_ratio, max_ratio].

    `images` is a (B, C, Z, Y, X) numpy array or torch tensor; a new one is returned (labels are unchanged,
    so the mixed volume keeps its own targets).
    """
    if not 0 <= min_ratio <= max_ratio <= 1:
        raise ValueError(f"mixup: need 0 <= `min_ratio` <= `max_ratio` <= 1; got {min_ratio}, {max_ratio}")
    if num_aug < 0:
        raise ValueError(f"mixup: `num_aug` must be >= 0; got {num_aug}")
    out = images.clone() if hasattr(images, "clone") else np.array(images, copy=True)
    batch = len(images)
    if batch < 2:
        return out
    for major in rng.choice(batch, min(num_aug, batch), replace=False):
        minor = rng.choice([i for i in range(batch) if i != major])
        ratio = rng.uniform(min_ratio, max_ratio)
        out[major] = images[major] * ratio + images[minor] * (1 - ratio)
    return out
