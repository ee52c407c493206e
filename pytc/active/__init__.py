"""Active learning and semi-automatic annotation: ``python -m pytc.active`` (see its --help).

- `uncertainty`: per-voxel uncertainty from test-time variants, MC dropout or an ensemble, reduced to entropy,
  variance or BALD.
- `patches`: candidate patches (a grid, or regions of high uncertainty) and their aggregated scores.
- `strategies`: random, uncertainty, coreset, diversity and two-stream selection (the STRATEGIES registry).
- `select`: the selection of a pool volume and its folder (manifest, crops, uncertainty map).
"""

from .patches import grid_patches, patch_scores, region_patches
from .select import Selection, read_manifest, select, write_selection
from .strategies import STRATEGIES, select_patches
from .uncertainty import REDUCTIONS, SOURCES, prediction_samples, reduce_samples, uncertainty_map

__all__ = [
    "REDUCTIONS",
    "SOURCES",
    "STRATEGIES",
    "Selection",
    "grid_patches",
    "patch_scores",
    "prediction_samples",
    "read_manifest",
    "reduce_samples",
    "region_patches",
    "select",
    "select_patches",
    "uncertainty_map",
    "write_selection",
]
