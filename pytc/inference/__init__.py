"""Inference: trained models applied to whole volumes, in memory or chunk by chunk (torch).

`predict(checkpoint_or_model, image, output=None, ...)` is the entry point; `python -m pytc.infer` its command.
"""

from .api import channel_offsets, predict
from .chunked import chunk_regions, predict_volume
from .predict import Source, WindowPredictor, predict_array
from .tta import Transform, transforms
from .uncertainty import entropy
from .window import blend_weights, sliding_windows, window_starts

__all__ = [
    "Source",
    "Transform",
    "WindowPredictor",
    "blend_weights",
    "channel_offsets",
    "chunk_regions",
    "entropy",
    "predict",
    "predict_array",
    "predict_volume",
    "sliding_windows",
    "transforms",
    "window_starts",
]
