"""EM data augmentation on numpy arrays (no torch needed).

Each augmentation is called as ``aug(sample, rng)`` on a dict of arrays with a numpy Generator and
returns a new dict; see `pytc.augment.base` for the sample conventions and `Compose` for margins.
"""

from .base import Augmentation, Compose, center_crop
from .defects import MisAlignment, MissingSection, MotionBlur
from .geometry import Flip, Rotate
from .intensity import Grayscale

__all__ = ["Augmentation", "Compose", "Flip", "Grayscale", "MisAlignment", "MissingSection", "MotionBlur", "Rotate", "center_crop"]
