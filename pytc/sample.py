"""The keys of a sample: the one place that names the arrays data, augment, targets and training exchange.

A sample is a dict of numpy arrays (torch tensors once batched):

- `IMAGE` ('image'): the EM image, float32 or uint8; (Z, Y, X) or (C, Z, Y, X) in augmentations, (1, Z, Y, X)
  float32 in a `pytc.data.VolumeDataset` item.
- `LABEL` ('label'): instance or class ids, integer, (Z, Y, X).
- `MASK` ('mask'): bool, (Z, Y, X), True where the labels can be trusted.
- `TARGET` ('target') and `WEIGHT` ('weight'): float32 (C, Z, Y, X) training targets and their loss weights
  (`pytc.data.build_targets`).
- `POSITION` ('position'): int64 (volume index, z, y, x) of a test-mode window.

This module imports nothing, so every package (augment, data, train, inference) can use it.
"""

IMAGE = "image"
LABEL = "label"
MASK = "mask"
TARGET = "target"
WEIGHT = "weight"
POSITION = "position"

__all__ = ["IMAGE", "LABEL", "MASK", "POSITION", "TARGET", "WEIGHT"]
