"""Volume I/O, training datasets and training targets."""

from .io import open_volume, read_volume, write_volume
from .targets import TARGETS, build_targets, weight_binary_ratio, weight_unet

__all__ = ["open_volume", "read_volume", "write_volume",
           "TARGETS", "build_targets", "weight_binary_ratio", "weight_unet"]
