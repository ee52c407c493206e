"""Inference: sliding-window prediction of whole volumes with a trained model (torch)."""

from .predict import predict
from .window import blend_weights, sliding_windows, window_starts

__all__ = ["blend_weights", "predict", "sliding_windows", "window_starts"]
