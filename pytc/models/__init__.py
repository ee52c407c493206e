"""Models for EM segmentation (torch): the model zoo (`MODELS`, a registry of builders by name; `build_model`),
synchronized batch normalization and checkpoints."""

from .checkpoint import load_checkpoint, load_model, save_checkpoint
from .sync_bn import SyncBatchNorm, convert_sync_batchnorm
from .unet import num_parameters
from .zoo import MODELS, build_model, enable_mc_dropout, model_from_config

__all__ = [
    "MODELS",
    "SyncBatchNorm",
    "build_model",
    "convert_sync_batchnorm",
    "enable_mc_dropout",
    "load_checkpoint",
    "load_model",
    "model_from_config",
    "num_parameters",
    "save_checkpoint",
]
