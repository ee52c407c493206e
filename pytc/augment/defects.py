"""EM-defect augmentations (PyTorch Connectomics' defaults): misalignment, missing sections, motion blur."""

import math
from collections.abc import Sequence

import numpy as np

from ..validation import check_number
from ._defects import box_blur_axis, missing_part
from ._warp import cast_like, rotation_matrix, warp_slices
from .base import AUGMENTATIONS, IMAGE, Augmentation, Sample, label_keys, per_channel


@AUGMENTATIONS.register()
class MisAlignment(Augmentation):
    """Shifts in y and x by up to `displacement` voxels: either one section ('slip') or every section from a
    random z on ('translation'). Applies to the image and every label-like array alike. The input needs
    `displacement` extra voxels in y and x; the valid result is the input minus
    that margin, placed at the centre of an array of the input's shape (Compose crops it); offsets are drawn in
    [0, displacement) and the moved z in [1, Z-2], as in PyTorch Connectomics.

    With probability `rotate_ratio` the sections are rotated about the centre instead of shifted, by an angle
    small enough that the centred output crop stays inside the section (PyTorch Connectomics' bound);
    images bilinear, labels nearest neighbour.
    """

    def __init__(self, p: float = 0.5, displacement: int = 16, rotate_ratio: float = 0.0):
        super().__init__(p)
        name = type(self).__name__
        self.displacement = check_number(displacement, name, "displacement", 1, integer=True)
        self.rotate_ratio = check_number(rotate_ratio, name, "rotate_ratio", 0, 1)

    def input_shape(self, output_shape: Sequence[int]) -> tuple[int, ...]:
        z, y, x = output_shape
        return (z, y + self.displacement, x + self.displacement)

    def _rotate(self, sample, rng):
        shape = sample[IMAGE].shape[-3:]
        side = min(shape[1:])
        half = self.displacement / 2.0
        reach = (side - self.displacement) / 2.0 * math.sqrt(2)  # half-diagonal of the output crop
        bound = 2.0 * math.asin(min(1.0, half / reach)) if reach > 0 else 0.0
        angle = rng.uniform(-bound, bound)
        z0 = int(rng.integers(1, shape[0] - 1))
        zsel = np.zeros(shape[0], bool)
        zsel[z0:] = True
        if rng.random() < 0.5:  # slip: one section only
            zsel[z0 + 1 :] = False
        center = (np.array(shape[1:]) - 1) / 2.0
        matrices = np.broadcast_to(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (shape[0], 2, 3)).copy()
        matrices[zsel] = rotation_matrix(angle, center, center)
        for key in label_keys(sample):
            sample[key] = warp_slices(sample[key], matrices, order=0)
        sample[IMAGE] = per_channel(sample[IMAGE], lambda a: warp_slices(a, matrices, order=1))
        return sample

    def apply(self, sample: Sample, rng: np.random.Generator) -> Sample:
        shape = sample[IMAGE].shape[-3:]
        d = self.displacement
        if shape[0] < 3 or shape[1] <= d or shape[2] <= d:
            return sample
        if rng.random() < self.rotate_ratio:
            return self._rotate(sample, rng)
        oy, ox = shape[1] - d, shape[2] - d
        y0, x0 = rng.integers(0, d, 2)
        y1, x1 = rng.integers(0, d, 2)
        slip = bool(rng.random() < 0.5)
        z0 = int(rng.integers(1, shape[0] - 1))
        zsel = np.zeros(shape[0], bool)
        if slip:
            zsel[z0] = True
        else:
            zsel[z0:] = True
        # output keeps the input shape: the centred crop (offset d//2) holds the (oy, ox) window
        cy, cx = d // 2, d // 2

        def move(a):
            out = a.copy()
            out[..., :, cy : cy + oy, cx : cx + ox] = a[..., :, y0 : y0 + oy, x0 : x0 + ox]
            out[..., zsel, cy : cy + oy, cx : cx + ox] = a[..., zsel, y1 : y1 + oy, x1 : x1 + ox]
            return out

        for key in [IMAGE] + label_keys(sample):
            sample[key] = move(sample[key])
        return sample


@AUGMENTATIONS.register()
class MissingSection(Augmentation):
    """Removes `num_sections` random sections (never the first or last) from every array, as PyTorch
    Connectomics does; the input needs `num_sections` extra sections in z, and the output has
    `num_sections` fewer."""

    def __init__(self, p: float = 0.5, num_sections: int = 2):
        super().__init__(p)
        self.num_sections = check_number(num_sections, type(self).__name__, "num_sections", 1, integer=True)

    def input_shape(self, output_shape: Sequence[int]) -> tuple[int, ...]:
        z, y, x = output_shape
        return (z + self.num_sections, y, x)

    def apply(self, sample: Sample, rng: np.random.Generator) -> Sample:
        nz = sample[IMAGE].shape[-3]
        if nz - 2 < self.num_sections:
            return sample
        idx = rng.choice(np.arange(1, nz - 1), self.num_sections, replace=False)
        for key in [IMAGE] + label_keys(sample):
            sample[key] = np.ascontiguousarray(np.delete(sample[key], idx, axis=-3))
        return sample


@AUGMENTATIONS.register()
class MotionBlur(Augmentation):
    """Blurs `sections` random sections with a horizontal or vertical box kernel of `kernel_size` (image only)."""

    def __init__(self, p: float = 0.5, sections: int = 2, kernel_size: int = 11):
        super().__init__(p)
        name = type(self).__name__
        self.sections = check_number(sections, name, "sections", 1, integer=True)
        self.kernel_size = check_number(kernel_size, name, "kernel_size", 1, integer=True)

    def apply(self, sample: Sample, rng: np.random.Generator) -> Sample:
        image = sample[IMAGE]
        nz = image.shape[-3]
        zs = rng.choice(nz, min(self.sections, nz), replace=False)
        axis = int(rng.integers(2))
        work = image.astype(np.float32)
        for z in zs:
            sl = work[..., z, :, :]
            if sl.ndim == 2:
                work[z] = box_blur_axis(np.ascontiguousarray(sl), self.kernel_size, axis)
            else:
                for c in range(sl.shape[0]):
                    work[c, z] = box_blur_axis(np.ascontiguousarray(sl[c]), self.kernel_size, axis)
        sample[IMAGE] = cast_like(work, image.dtype)
        return sample


@AUGMENTATIONS.register()
class MissingParts(Augmentation):
    """Sections with a missing band, like folds and cracks in EM sections (image only; PyTorch Connectomics).

    Each section is chosen with probability `deform_ratio` (at most one in any three consecutive ones). In it a
    straight line is drawn across, from the top to the bottom border or from the left to the right one, at
    random positions; the section is optionally compressed towards the line by `deformation_strength` voxels
    (each side shifted along the line's normal, bilinear), and the line widened by `iterations` dilations
    (a band of L1 radius `iterations`) is filled with the section's mean.
    """

    def __init__(
        self, p: float = 0.5, iterations: int = 40, deformation_strength: float = 0, deform_ratio: float = 0.25
    ):
        super().__init__(p)
        name = type(self).__name__
        self.iterations = check_number(iterations, name, "iterations", 0, integer=True)
        self.deformation_strength = check_number(deformation_strength, name, "deformation_strength", 0)
        self.deform_ratio = check_number(deform_ratio, name, "deform_ratio", 0, 1)

    @staticmethod
    def draw_line(shape: Sequence[int], rng: np.random.Generator) -> tuple[int, int, int, int]:
        """Endpoints (r0, c0, r1, c1) of a random line spanning the section."""
        h, w = shape
        if rng.random() < 0.5:
            return 0, int(rng.integers(1, max(2, w - 2))), h - 1, int(rng.integers(1, max(2, w - 2)))
        return int(rng.integers(1, max(2, h - 2))), 0, int(rng.integers(1, max(2, h - 2))), w - 1

    def apply(self, sample: Sample, rng: np.random.Generator) -> Sample:
        image = sample[IMAGE]
        work = image.astype(np.float32)
        sections = work[np.newaxis] if work.ndim == 3 else work
        z = 0
        while z < image.shape[-3]:
            if rng.random() < self.deform_ratio:
                line = self.draw_line(image.shape[-2:], rng)
                for channel in sections:  # every channel gets the same defect
                    channel[z] = missing_part(
                        np.ascontiguousarray(channel[z]), *line, self.iterations, float(self.deformation_strength)
                    )
                z += 2  # at most one damaged section in any three consecutive ones
            z += 1
        sample[IMAGE] = cast_like(work, image.dtype)
        return sample
