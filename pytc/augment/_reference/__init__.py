"""Plain numpy/scipy references for the numba augmentation kernels: written for clarity, not speed.

One module per family; tests compare each numba kernel with its reference here.
"""

from .elastic import field_from_coarse_ref, pytc_field_ref, warp_with_field_ref  # noqa: E402,F401
from .cut import blur_cuboid_ref  # noqa: E402,F401
from .mix import rotate_nearest_ref, rotated_overlaps_ref  # noqa: E402,F401
