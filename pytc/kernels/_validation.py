"""Argument checks shared by the kernel wrappers. Messages follow
`<function>: `<arg>` must be <expected>; got <actual>.`"""

import operator

import numpy as np


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
