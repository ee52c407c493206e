"""EM data augmentation on numpy arrays (no torch needed).

Each augmentation is called as ``aug(sample, rng)`` on a dict of arrays with a numpy Generator and
returns a new dict; see `pytc.augment.base` for the sample conventions and `Compose` for margins.
`em_augmentations(output_shape)` builds PyTorch Connectomics' standard EM pipeline.
"""

from .base import Augmentation, Compose, center_crop
from .cut import CutBlur, CutNoise
from .defects import MisAlignment, MissingParts, MissingSection, MotionBlur
from .elastic import Elastic
from .geometry import Flip, Rotate
from .intensity import Grayscale
from .mix import CopyPaste, Mixup, mixup
from .presets import build_augmentation, build_augmentations, em_augmentations
from .scale import Rescale

__all__ = [
    "Augmentation",
    "Compose",
    "CopyPaste",
    "CutBlur",
    "CutNoise",
    "Elastic",
    "Flip",
    "Grayscale",
    "MisAlignment",
    "MissingParts",
    "MissingSection",
    "Mixup",
    "MotionBlur",
    "Rescale",
    "Rotate",
    "build_augmentation",
    "build_augmentations",
    "center_crop",
    "em_augmentations",
    "mixup",
]
