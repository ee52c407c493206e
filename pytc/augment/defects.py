"""EM-defect augmentations (PyTorch Connectomics' defaults): misalignment, missing sections, motion blur."""

import numpy as np

from ._defects import box_blur_axis
from ._warp import cast_like
from .base import IMAGE, Augmentation, check_range, label_keys


class MisAlignment(Augmentation):
    """Shifts in y and x by up to `displacement` voxels: either one section ('slip') or every section from a
    random z on ('translation'). Applies to the image and every label-like array alike. The input needs
    `displacement` extra voxels in y and x; the valid result is the input minus
    that margin, placed at the centre of an array of the input's shape (Compose crops it); offsets are drawn in
    [0, displacement) and the moved z in [1, Z-2], as in PyTorch Connectomics.
    """

    def __init__(self, p=0.5, displacement=16):
        super().__init__(p)
        self.displacement = check_range(type(self).__name__, "displacement", displacement, 1, integer=True)

    def input_shape(self, output_shape):
        z, y, x = output_shape
        return (z, y + self.displacement, x + self.displacement)

    def apply(self, sample, rng):
        shape = sample[IMAGE].shape[-3:]
        d = self.displacement
        if shape[0] < 3 or shape[1] <= d or shape[2] <= d:
            return sample
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
            out[..., :, cy:cy + oy, cx:cx + ox] = a[..., :, y0:y0 + oy, x0:x0 + ox]
            out[..., zsel, cy:cy + oy, cx:cx + ox] = a[..., zsel, y1:y1 + oy, x1:x1 + ox]
            return out

        for key in [IMAGE] + label_keys(sample):
            sample[key] = move(sample[key])
        return sample


class MissingSection(Augmentation):
    """Removes `num_sections` random sections (never the first or last) from every array, as PyTorch
    Connectomics does; the input needs `num_sections` extra sections in z, and the output has
    `num_sections` fewer."""

    def __init__(self, p=0.5, num_sections=2):
        super().__init__(p)
        self.num_sections = check_range(type(self).__name__, "num_sections", num_sections, 1, integer=True)

    def input_shape(self, output_shape):
        z, y, x = output_shape
        return (z + self.num_sections, y, x)

    def apply(self, sample, rng):
        nz = sample[IMAGE].shape[-3]
        if nz - 2 < self.num_sections:
            return sample
        idx = rng.choice(np.arange(1, nz - 1), self.num_sections, replace=False)
        for key in [IMAGE] + label_keys(sample):
            sample[key] = np.ascontiguousarray(np.delete(sample[key], idx, axis=-3))
        return sample


class MotionBlur(Augmentation):
    """Blurs `sections` random sections with a horizontal or vertical box kernel of `kernel_size` (image only)."""

    def __init__(self, p=0.5, sections=2, kernel_size=11):
        super().__init__(p)
        name = type(self).__name__
        self.sections = check_range(name, "sections", sections, 1, integer=True)
        self.kernel_size = check_range(name, "kernel_size", kernel_size, 1, integer=True)

    def apply(self, sample, rng):
        image = sample[IMAGE]
        nz = image.shape[-3]
        zs = rng.choice(nz, min(self.sections, nz), replace=False)
        axis = int(rng.integers(2))
        scale = np.float32(255 if image.dtype == np.uint8 else 1)
        work = image.astype(np.float32)
        for z in zs:
            sl = work[..., z, :, :]
            if sl.ndim == 2:
                work[z] = box_blur_axis(np.ascontiguousarray(sl), self.kernel_size, axis)
            else:
                for c in range(sl.shape[0]):
                    work[c, z] = box_blur_axis(np.ascontiguousarray(sl[c]), self.kernel_size, axis)
        del scale
        sample[IMAGE] = cast_like(work, image.dtype)
        return sample
