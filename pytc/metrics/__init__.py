"""Segmentation metrics for connectomics: adapted Rand error and variation of information.

All are computed from a contingency table built by one compiled pass over the voxels
(`pytc.kernels.contingency_table`).
"""

from ._segmentation import adapted_rand, evaluate, voi

__all__ = ["adapted_rand", "evaluate", "voi"]
