"""The augmentation interface: `Augmentation` and `Compose`.

A sample is a dict of numpy arrays. 'image' is float32 or uint8, (Z, Y, X) or (C, Z, Y, X). Every other
array is label-like ('label', 'mask', or any key the caller adds): integer or bool, (Z, Y, X), the same
spatial shape as the image. Geometric transforms move every array the same way and resample label-like ones
by nearest neighbour (ids after are a subset of ids before, plus `fill` where data comes from outside);
intensity transforms change the image only. Non-array values pass through untouched.
"""

import numbers

import numpy as np

IMAGE = "image"


def check_probability(name, p):
    if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"{name}: `p` must be a probability in [0, 1]; got {p!r}")
    return float(p)


def check_range(name, arg, value, low=None, high=None, integer=False):
    """Validates a scalar parameter: a real (or int) within [low, high]; returns it."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{name}: `{arg}` must be {'an integer' if integer else 'a number'}; got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise ValueError(f"{name}: `{arg}` must be in {bounds}; got {value!r}")
    return value


def spatial_shape(sample):
    """The (Z, Y, X) shape of a sample, after checking that every array agrees with the image."""
    if IMAGE not in sample:
        raise KeyError(f"augmentation: the sample must have an 'image' array; got keys {sorted(sample)}")
    image = sample[IMAGE]
    if not isinstance(image, np.ndarray) or image.ndim not in (3, 4):
        raise ValueError(f"augmentation: 'image' must be a (Z, Y, X) or (C, Z, Y, X) array; got "
                         f"{getattr(image, 'shape', type(image).__name__)}")
    if image.dtype not in (np.float32, np.uint8):
        raise TypeError(f"augmentation: 'image' must be float32 or uint8; got {image.dtype}")
    shape = image.shape[-3:]
    for key, value in sample.items():
        if key != IMAGE and isinstance(value, np.ndarray) and value.shape != shape:
            raise ValueError(f"augmentation: {key!r} has shape {value.shape}; expected the image's spatial "
                             f"shape {shape}")
    return shape


def label_keys(sample):
    return [key for key, value in sample.items() if key != IMAGE and isinstance(value, np.ndarray)]


def per_channel(image, fn):
    """Applies fn to each (Z, Y, X) channel of a (C, Z, Y, X) image, or to a (Z, Y, X) image."""
    if image.ndim == 3:
        return fn(image)
    return np.stack([fn(channel) for channel in image])


def center_crop(array, shape):
    """The centered (…, *shape) crop of the last len(shape) axes of `array` (a view)."""
    spatial = array.shape[-len(shape):]
    if any(s < t for s, t in zip(spatial, shape)):
        raise ValueError(f"center_crop: array of spatial shape {spatial} is smaller than {tuple(shape)}")
    starts = [(s - t) // 2 for s, t in zip(spatial, shape)]
    crop = tuple(slice(a, a + t) for a, t in zip(starts, shape))
    return array[(Ellipsis,) + crop]


class Augmentation:
    """Base class: applied with probability `p`; subclasses implement `apply`.

    `input_shape(output_shape)` is the spatial shape this augmentation needs so that the centered
    `output_shape` crop of its result holds valid data only (the margin for warps, shifts, rotations).
    `apply(sample, rng)` gets a shallow copy of the sample and must not modify the arrays in it: it
    replaces them with new ones.
    """

    def __init__(self, p=0.5):
        self.p = check_probability(type(self).__name__, p)

    def input_shape(self, output_shape):
        return tuple(output_shape)

    def __call__(self, sample, rng):
        spatial_shape(sample)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"{type(self).__name__}: `rng` must be a numpy.random.Generator; got {type(rng).__name__}")
        sample = dict(sample)
        if rng.random() >= self.p:
            return sample
        return self.apply(sample, rng)

    def apply(self, sample, rng):
        raise NotImplementedError

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


class Compose:
    """Applies augmentations in order, each with its own probability, then center-crops to `output_shape`.

    Parameters
    ----------
    transforms : list of Augmentation
    output_shape : tuple of 3 ints, optional
        Spatial shape of the samples returned. The data loader reads crops of
        ``input_shape()`` (output shape plus every augmentation's margin).

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

    def __init__(self, transforms, output_shape=None):
        for t in transforms:
            if not isinstance(t, Augmentation) and not hasattr(t, "input_shape"):
                raise TypeError(f"Compose: `transforms` must hold Augmentation objects; got {type(t).__name__}")
        self.transforms = list(transforms)
        if output_shape is not None:
            if len(output_shape) != 3 or any(int(s) < 1 for s in output_shape):
                raise ValueError(f"Compose: `output_shape` must be 3 positive ints (Z, Y, X); got {output_shape}")
            output_shape = tuple(int(s) for s in output_shape)
        self.output_shape = output_shape

    def input_shape(self, output_shape=None):
        """The spatial shape of crops to read so that every augmentation has its margin."""
        shape = output_shape or self.output_shape
        if shape is None:
            raise ValueError("Compose.input_shape: give `output_shape` here or to the constructor")
        for t in reversed(self.transforms):
            shape = t.input_shape(tuple(shape))
        return tuple(int(s) for s in shape)

    def __call__(self, sample, rng):
        shape = spatial_shape(sample)
        if self.output_shape is not None:
            needed = self.input_shape()
            if any(s < n for s, n in zip(shape, needed)):
                raise ValueError(f"Compose: the sample has spatial shape {shape}, smaller than the {needed} "
                                 f"needed for output_shape {self.output_shape}")
            sample = {k: center_crop(v, needed) if isinstance(v, np.ndarray) else v for k, v in sample.items()}
        for t in self.transforms:
            sample = t(sample, rng)
        if self.output_shape is not None:
            sample = {k: np.ascontiguousarray(center_crop(v, self.output_shape)) if isinstance(v, np.ndarray)
                      else v for k, v in sample.items()}  # fmt: skip
        return sample

    def __repr__(self):
        inner = ",\n  ".join(repr(t) for t in self.transforms)
        return f"Compose([\n  {inner}\n], output_shape={self.output_shape})"
