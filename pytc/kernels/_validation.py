"""Argument checks shared by the kernel wrappers. Messages follow
`<function>: `<arg>` must be <expected>; got <actual>.`"""

import operator

import numpy as np

from .._extension import load

_ext = load()


def as_label_array(array, fn, arg):
    """`array` as an ndarray of integer labels (no copy of an ndarray); rejects bool and floats."""
    array = np.asarray(array)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"{fn}: `{arg}` must be an integer label array (uint8/16/32/64 or int8/16/32/64); "
            f"got dtype {array.dtype}. Labels are never cast from floats or bools silently: "
            f"convert explicitly, e.g. {arg}.astype(np.uint32)."
        )
    return array


def as_threads(threads, fn):
    """The `threads` argument as the int the compiled kernels take (0 = OpenMP's default)."""
    if threads is None:
        return 0
    try:
        value = operator.index(threads)
    except TypeError:
        raise TypeError(f"{fn}: `threads` must be a positive int or None; got {threads!r}") from None
    if value < 1:
        raise ValueError(f"{fn}: `threads` must be a positive int or None; got {threads!r}")
    return value


def as_affinities(affinities, fn, arg="affinities", min_channels=3):
    """Affinities as a C-contiguous float32 (C, Z, Y, X) array.

    float32 C-contiguous input is used as is; uint8 is scaled by 1/255 and non-contiguous input
    copied (both documented copies). Other dtypes, other ndims, too few channels and values that
    are not probabilities (outside [0, 1], infinite or NaN) are rejected.
    """
    array = np.asarray(affinities)
    if array.ndim != 4:
        raise ValueError(f"{fn}: `{arg}` must be 4D (C, Z, Y, X); got ndim={array.ndim}, shape {array.shape}")
    if array.shape[0] < min_channels:
        raise ValueError(
            f"{fn}: `{arg}` must have at least {min_channels} channels (the nearest neighbours "
            f"(-1,0,0), (0,-1,0), (0,0,-1) first); got shape {array.shape}"
        )
    if array.dtype == np.uint8:
        return np.divide(array, np.float32(255), dtype=np.float32, order="C")  # C order whatever the input
    if array.dtype != np.float32:
        raise TypeError(
            f"{fn}: `{arg}` must be float32 in [0, 1] or uint8 (scaled by 1/255); got dtype {array.dtype}. "
            f"Convert explicitly, e.g. {arg}.astype(np.float32)."
        )
    array = np.ascontiguousarray(array)
    check_probabilities(array, fn, arg)
    return array


def check_probabilities(array, fn, arg):
    """Raise ValueError when a C-contiguous float32 `array` holds a value outside [0, 1] or NaN.

    One compiled pass over the data (the cost of the NaN check it replaces); raw network outputs
    (logits) are the usual cause, so the message says to apply the activation.
    """
    flat = array.reshape(-1)
    index = _ext.first_outside(flat, 0.0, 1.0, 0)
    if index < 0:
        return
    finite = flat[np.isfinite(flat)]
    span = f"finite values in [{finite.min():g}, {finite.max():g}]" if finite.size else "no finite value"
    bad = int(np.count_nonzero(~((flat >= 0) & (flat <= 1))))
    position = [int(i) for i in np.unravel_index(index, array.shape)]
    raise ValueError(
        f"{fn}: `{arg}` must be probabilities in [0, 1]; got {flat[index]} at {position} ({bad} value(s) outside "
        f"[0, 1] or NaN; {span}). Apply the network's output activation first, e.g. a sigmoid: "
        f"1 / (1 + np.exp(-logits))"
    )


def as_probabilities(array, fn, arg):
    """`array` (any shape) as float32 probabilities: uint8 scaled by 1/255, floats checked to lie in [0, 1]."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return np.divide(array, np.float32(255), dtype=np.float32, order="C")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"{fn}: `{arg}` must be probabilities, float in [0, 1] or uint8 (scaled by 1/255); "
                        f"got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    check_probabilities(array, fn, arg)
    return array
