"""Volume I/O, training datasets and training targets."""

from .dataset import VolumeDataset, build_dataloader
from .io import open_volume, read_volume, write_volume
from .targets import TARGETS, build_targets, weight_binary_ratio, weight_unet

__all__ = [
    "TARGETS",
    "VolumeDataset",
    "build_dataloader",
    "build_targets",
    "open_volume",
    "read_volume",
    "weight_binary_ratio",
    "weight_unet",
    "write_volume",
]
