"""Training targets and loss weights from label volumes (PyTorch Connectomics semantics).

- `targets`: the target functions, registered by name in `TARGETS` (a `pytc.registry.Registry`).
- `weights`: loss weights (`weight_binary_ratio`, `weight_unet`) and `affinity_mask` (valid edges of a mask).
- `spec`: target specs as configs write them, `build_targets` (several targets stacked into one multitask
  array, with weights and the channel range of each task), `target_channels` and `spec_channels`.
"""

from .spec import (
    DEFAULT_ACTIVATIONS,
    TargetSpec,
    TargetSpecs,
    build_targets,
    spec_channels,
    target_channels,
)
from .targets import (
    TARGETS,
    affinity_target,
    binary_target,
    boundary_target,
    energy_quantize,
    instance_edt_target,
    polarity_target,
    quantized_edt_target,
    semantic_edt_target,
    semantic_target,
    small_object_target,
)
from .weights import affinity_mask, weight_binary_ratio, weight_unet

__all__ = [
    "DEFAULT_ACTIVATIONS",
    "TARGETS",
    "TargetSpec",
    "TargetSpecs",
    "affinity_mask",
    "affinity_target",
    "binary_target",
    "boundary_target",
    "build_targets",
    "energy_quantize",
    "instance_edt_target",
    "polarity_target",
    "quantized_edt_target",
    "semantic_edt_target",
    "semantic_target",
    "small_object_target",
    "spec_channels",
    "target_channels",
    "weight_binary_ratio",
    "weight_unet",
]
