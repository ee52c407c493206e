"""The augmentation interface: `Augmentation` and `Compose`.

A sample is a dict of numpy arrays. 'image' is float32 or uint8, (Z, Y, X) or (C, Z, Y, X). Every other
array is label-like ('label', 'mask', or any key the caller adds): integer or bool, (Z, Y, X), the same
spatial shape as the image. Geometric transforms move every array the same way and resample label-like ones
by nearest neighbour (ids after are a subset of ids before, plus `fill` where data comes from outside);
intensity transforms change the image only. Non-array values pass through untouched.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..geometry import center_crop
from ..registry import Registry
from ..sample import IMAGE
from ..validation import as_shape, check_number, fail

Sample = dict[str, Any]

# every per-sample augmentation, by class name (configs and `build_augmentation` name them)
AUGMENTATIONS = Registry("augmentation")


def check_probability(p: Any, fn: str) -> float:
    """`p` as a float in [0, 1]: TypeError for a non-number, ValueError outside [0, 1]."""
    check_number(p, fn, "p")
    if not 0 <= p <= 1:
        raise fail(fn, "p", "a probability in [0, 1]", repr(p))
    return float(p)


def spatial_shape(sample: Sample) -> tuple[int, ...]:
    """The (Z, Y, X) shape of a sample, after checking that every array agrees with the image."""
    if IMAGE not in sample:
        raise KeyError(f"augmentation: the sample must have an 'image' array; got keys {sorted(sample)}")
    image = sample[IMAGE]
    if not isinstance(image, np.ndarray) or image.ndim not in (3, 4):
        raise ValueError(
            f"augmentation: 'image' must be a (Z, Y, X) or (C, Z, Y, X) array; got "
            f"{getattr(image, 'shape', type(image).__name__)}"
        )
    if image.dtype not in (np.float32, np.uint8):
        raise TypeError(f"augmentation: 'image' must be float32 or uint8; got {image.dtype}")
    shape = image.shape[-3:]
    for key, value in sample.items():
        if key != IMAGE and isinstance(value, np.ndarray) and value.shape != shape:
            raise ValueError(
                f"augmentation: {key!r} has shape {value.shape}; expected the image's spatial shape {shape}"
            )
    return shape


def label_keys(sample: Sample) -> list[str]:
    return [key for key, value in sample.items() if key != IMAGE and isinstance(value, np.ndarray)]


def per_channel(image: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Applies fn to each (Z, Y, X) channel of a (C, Z, Y, X) image, or to a (Z, Y, X) image."""
    if image.ndim == 3:
        return fn(image)
    return np.stack([fn(channel) for channel in image])


class Augmentation:
    """Base class: applied with probability `p`; subclasses implement `apply`.

    `input_shape(output_shape)` is the spatial shape this augmentation needs so that the centered
    `output_shape` crop of its result holds valid data only (the margin for warps, shifts, rotations).
    `apply(sample, rng)` gets a shallow copy of the sample and must not modify the arrays in it: it
    replaces them with new ones.
    """

    def __init__(self, p: float = 0.5):
        self.p = check_probability(p, type(self).__name__)

    def input_shape(self, output_shape: Sequence[int]) -> tuple[int, ...]:
        return tuple(output_shape)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        spatial_shape(sample)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"{type(self).__name__}: `rng` must be a numpy.random.Generator; got {type(rng).__name__}")
        sample = dict(sample)
        if rng.random() >= self.p:
            return sample
        return self.apply(sample, rng)

    def apply(self, sample: Sample, rng: np.random.Generator) -> Sample:
        raise NotImplementedError

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


class Compose:
    """Applies augmentations in order, each with its own probability, then center-crops to `output_shape`.

    The pipeline owns the crop: given a sample of at least `input_shape()` it crops the centred `input_shape()`
    region, augments it and returns the centred `output_shape` crop, C-contiguous. Without `output_shape` it
    augments the sample as it is and crops nothing. A `pytc.data.VolumeDataset` owns the shape: it reads
    ``input_shape(sample_shape)`` voxels and runs ``with_output_shape(sample_shape)``, so a `Compose` given to
    it needs no `output_shape` (one that has one must agree with the dataset's `sample_shape`).

    Parameters
    ----------
    transforms : list of Augmentation
    output_shape : tuple of 3 ints, optional
        Spatial shape of the samples returned.

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.augment import Compose, Flip, Grayscale
    >>> aug = Compose([Flip(), Grayscale()], output_shape=(8, 32, 32))
    >>> aug.input_shape()
    (8, 32, 32)
    >>> sample = {"image": np.random.rand(8, 32, 32).astype(np.float32), "label": np.ones((8, 32, 32), np.uint32)}
    >>> out = aug(sample, np.random.default_rng(0))
    >>> out["image"].shape, out["label"].dtype
    ((8, 32, 32), dtype('uint32'))
    """

    def __init__(self, transforms: Sequence[Augmentation], output_shape: Sequence[int] | None = None):
        for t in transforms:
            if not isinstance(t, Augmentation) and not hasattr(t, "input_shape"):
                raise TypeError(f"Compose: `transforms` must hold Augmentation objects; got {type(t).__name__}")
        self.transforms = list(transforms)
        if output_shape is not None:
            try:
                output_shape = as_shape(output_shape, "Compose", "output_shape")
            except (TypeError, ValueError):
                raise fail("Compose", "output_shape", "3 positive ints (Z, Y, X)", repr(output_shape)) from None
        self.output_shape = output_shape

    def with_output_shape(self, output_shape: Sequence[int]) -> "Compose":
        """This pipeline returning `output_shape` crops: itself when that is its `output_shape`, else a copy
        (same transforms); ValueError when it already has another `output_shape`."""
        output_shape = as_shape(output_shape, "Compose.with_output_shape", "output_shape")
        if self.output_shape == output_shape:
            return self
        if self.output_shape is not None:
            raise fail(
                "Compose.with_output_shape",
                "output_shape",
                f"this pipeline's output_shape {self.output_shape}",
                output_shape,
            )
        return Compose(self.transforms, output_shape)

    def input_shape(self, output_shape: Sequence[int] | None = None) -> tuple[int, ...]:
        """The spatial shape of crops to read so that every augmentation has its margin."""
        shape = output_shape or self.output_shape
        if shape is None:
            raise ValueError("Compose.input_shape: give `output_shape` here or to the constructor")
        for t in reversed(self.transforms):
            shape = t.input_shape(tuple(shape))
        return tuple(int(s) for s in shape)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        shape = spatial_shape(sample)
        if self.output_shape is not None:
            needed = self.input_shape()
            if any(s < n for s, n in zip(shape, needed)):
                raise ValueError(
                    f"Compose: the sample has spatial shape {shape}, smaller than the {needed} "
                    f"needed for output_shape {self.output_shape}"
                )
            sample = _crop(sample, needed)
        for t in self.transforms:
            sample = t(sample, rng)
        if self.output_shape is not None:
            sample = {
                k: np.ascontiguousarray(v) if isinstance(v, np.ndarray) else v
                for k, v in _crop(sample, self.output_shape).items()
            }
        return sample

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(t) for t in self.transforms)
        return f"Compose([\n  {inner}\n], output_shape={self.output_shape})"


def _crop(sample: Sample, shape: tuple[int, ...]) -> Sample:
    """Every array of `sample` center-cropped to `shape` (views; other values as they are)."""
    return {k: center_crop(v, shape) if isinstance(v, np.ndarray) else v for k, v in sample.items()}
