"""Volume I/O, training datasets and training targets."""

from .dataset import VolumeDataset, build_dataloader
from .io import VolumeReadError, open_volume, read_volume, split_dataset, write_volume
from .normalize import Normalization
from .targets import DEFAULT_ACTIVATIONS, TARGETS, build_targets, target_channels, weight_binary_ratio, weight_unet

__all__ = [
    "DEFAULT_ACTIVATIONS",
    "Normalization",
    "TARGETS",
    "VolumeDataset",
    "VolumeReadError",
    "build_dataloader",
    "build_targets",
    "open_volume",
    "read_volume",
    "split_dataset",
    "target_channels",
    "weight_binary_ratio",
    "weight_unet",
    "write_volume",
]
