"""Volume I/O, training datasets and training targets.

- `io`: reading and writing volumes (HDF5, zarr, TIFF/PNG stacks, tiled JSON), lazily by region.
- `dataset`: `VolumeDataset`, training crops and test-mode windows over several volumes.
- `sampling`: reading regions, choosing crops, rejection sampling.
- `loader`: `build_dataloader`, a torch DataLoader with workers started safely.
- `normalize`: intensity normalisation; `targets`: training targets, weights and target specs;
  `tasks`: the channel layout of a multitask network.
"""

from .dataset import VolumeDataset
from .io import VolumeReadError, open_volume, read_volume, split_dataset, write_volume
from .loader import build_dataloader
from .normalize import Normalization
from .targets import (
    DEFAULT_ACTIVATIONS,
    TARGETS,
    build_targets,
    spec_channels,
    target_channels,
    weight_binary_ratio,
    weight_unet,
)

__all__ = [
    "DEFAULT_ACTIVATIONS",
    "TARGETS",
    "Normalization",
    "VolumeDataset",
    "VolumeReadError",
    "build_dataloader",
    "build_targets",
    "open_volume",
    "read_volume",
    "spec_channels",
    "split_dataset",
    "target_channels",
    "weight_binary_ratio",
    "weight_unet",
    "write_volume",
]
