"""From network outputs to instance segmentations (numpy; no torch).

Decoders (`pytc.decode.instances`) take probabilities and reject raw logits; the helpers wrap cc3d and
fastremap. `python -m pytc.decode` runs the decoders on volumes.
"""

from ._basic import boundary_to_affinity, connected_components, relabel_sequential, remove_small_segments
from .instances import (
    affinities_to_segmentation,
    as_probabilities,
    binary_contour_to_instances,
    polarity_to_instances,
    seeded_watershed,
)

__all__ = [
    "affinities_to_segmentation",
    "as_probabilities",
    "binary_contour_to_instances",
    "boundary_to_affinity",
    "connected_components",
    "polarity_to_instances",
    "relabel_sequential",
    "remove_small_segments",
    "seeded_watershed",
]
