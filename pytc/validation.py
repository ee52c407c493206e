"""Argument checks for every pytc package, in one message style:

    <function>: `<arg>` must be <expected>; got <actual>

TypeError when the argument is of the wrong kind (type or dtype), ValueError when it is of the right kind
with a bad value or shape. Each check takes the value first, then the name of the public function and of
the argument that the message names, and returns the value in the form the caller uses. This module needs
numpy and the compiled `pytc._ext` only (no torch), so `pytc.kernels` can use it.
"""

import numbers
import operator
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ._extension import load

_ext = load()


def fail(fn: str, arg: str, expected: str, got: Any, error: type[Exception] = ValueError) -> Exception:
    """The exception for `arg` of `fn` that is not `expected` (raise it): the one message format."""
    return error(f"{fn}: `{arg}` must be {expected}; got {got}")


def check_choice(value: Any, fn: str, arg: str, choices: Iterable[Any]) -> Any:
    """`value` if it is one of `choices`, else ValueError listing them."""
    choices = tuple(choices)
    if value not in choices:
        raise fail(fn, arg, f"one of {choices}", repr(value))
    return value


def check_number(
    value: Any, fn: str, arg: str, low: float | None = None, high: float | None = None, integer: bool = False
) -> Any:
    """`value` if it is a real number (an int with `integer`) in [low, high]: TypeError for another kind
    (bools are not numbers here), ValueError outside the bounds."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise fail(fn, arg, "an integer" if integer else "a number", repr(value), TypeError)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise fail(fn, arg, f"in {bounds}", repr(value))
    return value


def as_shape(value: Any, fn: str, arg: str, ndim: int | Sequence[int] = 3, minimum: int = 1) -> tuple[int, ...]:
    """`value` as a tuple of ints >= `minimum` with `ndim` entries (an int or the allowed lengths)."""
    lengths = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    expected = f"{' or '.join(map(str, lengths))} ints >= {minimum}"
    try:
        shape = tuple(operator.index(s) for s in value)
    except TypeError:
        raise fail(fn, arg, expected, repr(value), TypeError) from None
    if len(shape) not in lengths or (shape and min(shape) < minimum):
        raise fail(fn, arg, expected, repr(value))
    return shape


def check_ndim(array: np.ndarray, fn: str, arg: str, ndims: Iterable[int], layout: str) -> np.ndarray:
    """`array` if its number of axes is one of `ndims` (`layout` describes them, e.g. "(Z, Y, X)")."""
    if array.ndim not in tuple(ndims):
        raise fail(fn, arg, layout, f"ndim={array.ndim}, shape {array.shape}")
    return array


def as_label_array(array: Any, fn: str, arg: str, allow_bool: bool = False) -> np.ndarray:
    """`array` as an ndarray of integer labels (no copy of an ndarray); rejects floats, and bools unless
    `allow_bool` (a foreground mask)."""
    array = np.asarray(array)
    if array.dtype == bool and allow_bool:
        return array
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"{fn}: `{arg}` must be an integer label array (uint8/16/32/64 or int8/16/32/64); "
            f"got dtype {array.dtype}. Labels are never cast from floats or bools silently: "
            f"convert explicitly, e.g. {arg}.astype(np.uint32)."
        )
    return array


def as_threads(threads: Any, fn: str) -> int:
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


def as_affinities(affinities: Any, fn: str, arg: str = "affinities", min_channels: int = 3) -> np.ndarray:
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


def check_probabilities(array: np.ndarray, fn: str, arg: str) -> None:
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


def as_probabilities(array: Any, fn: str, arg: str) -> np.ndarray:
    """`array` (any shape) as float32 probabilities: uint8 scaled by 1/255, floats checked to lie in [0, 1]."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return np.divide(array, np.float32(255), dtype=np.float32, order="C")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.floating):
        raise TypeError(
            f"{fn}: `{arg}` must be probabilities, float in [0, 1] or uint8 (scaled by 1/255); got dtype {array.dtype}"
        )
    array = np.ascontiguousarray(array, dtype=np.float32)
    check_probabilities(array, fn, arg)
    return array
