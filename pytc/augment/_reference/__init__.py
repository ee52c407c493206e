"""Plain numpy/scipy references for the numba augmentation kernels: written for clarity, not speed.

One module per family; tests compare each numba kernel with its reference here.
"""

from .cut import blur_cuboid_ref
from .defects import box_blur_axis_ref, missing_part_ref
from .elastic import field_from_coarse_ref, pytc_field_ref, warp_with_field_ref
from .mix import rotate_nearest_ref, rotated_overlaps_ref
from .warp import affine_slices_ref

__all__ = [
    "affine_slices_ref",
    "blur_cuboid_ref",
    "box_blur_axis_ref",
    "field_from_coarse_ref",
    "missing_part_ref",
    "pytc_field_ref",
    "rotate_nearest_ref",
    "rotated_overlaps_ref",
    "warp_with_field_ref",
]
