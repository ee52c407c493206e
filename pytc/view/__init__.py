"""Looking at volumes in Neuroglancer: ``python -m pytc.view`` (see its --help).

- `volumes`: volume specs (``PATH[:DATASET][:KIND]``), the layer kind of a volume, and `Region`, a volume read
  by region in a dtype Neuroglancer takes. No Neuroglancer needed.
- `run`: the volumes of a training or inference run folder.
- `viewer`: Neuroglancer layers (EM, segmentation, affinities as RGB, heat maps) and the local viewer; needs
  the `neuroglancer` package (``pip install 'pytc[view]'``).

Colours match TensorBoard's images of training: `pytc.data.colors.label_colors` is Neuroglancer's segment
colour, and affinities show as RGB of their first three channels in both.
"""

from .run import run_boxes, run_volumes
from .viewer import build_layer, open_viewer, require_neuroglancer, state_json, write_state
from .volumes import KINDS, Region, VolumeSpec, guess_kind, open_region

__all__ = [
    "KINDS",
    "Region",
    "VolumeSpec",
    "build_layer",
    "guess_kind",
    "open_region",
    "open_viewer",
    "require_neuroglancer",
    "run_boxes",
    "run_volumes",
    "state_json",
    "write_state",
]
