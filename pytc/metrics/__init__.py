"""Segmentation metrics for connectomics: adapted Rand error and variation of information (neurons), average
precision over IoU thresholds (instances), IoU and Dice (semantic).

The neuron and instance metrics come from a contingency table built by one compiled pass over the voxels
(`pytc.kernels.contingency_table`). `python -m pytc.evaluate` scores volumes.
"""

from ._instance import average_precision, semantic_scores
from ._segmentation import adapted_rand, evaluate, scores_from_table, voi

__all__ = ["adapted_rand", "average_precision", "evaluate", "scores_from_table", "semantic_scores", "voi"]
