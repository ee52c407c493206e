"""Models for EM segmentation (torch): the model zoo and synchronized batch normalization."""

from .sync_bn import SyncBatchNorm, convert_sync_batchnorm

__all__ = ["SyncBatchNorm", "convert_sync_batchnorm"]
