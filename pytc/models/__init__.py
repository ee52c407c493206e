"""Models for EM segmentation (torch): the model zoo and synchronized batch normalization."""

from .sync_bn import SyncBatchNorm, convert_sync_batchnorm
from .unet import num_parameters
from .zoo import MODELS, build_model

__all__ = ["MODELS", "SyncBatchNorm", "build_model", "convert_sync_batchnorm", "num_parameters"]
