"""Contingency table of two label volumes (public wrapper of the compiled kernel)."""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .._extension import load
from .._slowdown import slowed
from ..validation import as_label_array, as_threads

_ext = load()


def contingency_table(
    seg: ArrayLike,
    gt: ArrayLike,
    *,
    ignore_seg: int | Sequence[int] = (),
    ignore_gt: int | Sequence[int] = (),
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voxel counts of every pair of labels ``(seg[v], gt[v])``, in one hashing pass.

    Parameters
    ----------
    seg, gt : ndarray of int, same shape
        Integer labels (uint8/16/32/64 or int8/16/32/64; the two dtypes may differ). Any rank
        and memory layout (C order, Fortran order, strided or read-only views); never modified
        or copied (except non-native byte order, converted first).
    ignore_seg, ignore_gt : int or sequence of int
        Voxels whose `seg` label is in `ignore_seg` or whose `gt` label is in `ignore_gt` are
        not counted. Labels are compared by value: a value the dtype cannot hold matches nothing.
    threads : int, optional
        Number of threads; default: OpenMP's (``OMP_NUM_THREADS`` or all cores).

    Returns
    -------
    seg_ids : ndarray of uint64, shape (P,)
    gt_ids : ndarray of uint64, shape (P,)
    counts : ndarray of int64, shape (P,)
        The P nonzero cells of the table, sorted by (seg_id, gt_id). Ids are the labels' values
        modulo 2**64: signed labels are sign-extended, so a negative label -k becomes
        ``2**64 - k`` (sorted after the positive ones) and ``seg_ids.view(np.int64)`` gives it
        back. Empty when every voxel is ignored or the input has no voxel.

    Notes
    -----
    Consecutive voxels usually share their pair of labels, so the kernel counts runs (finding
    the changes of pair 32 voxels at a time) and only updates its table when the pair changes;
    a small cache of recent pairs takes most updates, so thousands of ids on both sides stay
    cheap. OpenMP threads each count a slab of the
    volume into their own table; the tables are merged by the final sort. C order (or Fortran
    order) in both arrays is fastest; mixed layouts work without a copy but read one array
    with strides.

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.kernels._contingency import contingency_table
    >>> seg = np.array([[1, 1, 2],
    ...                 [1, 2, 2]], dtype=np.uint32)
    >>> gt = np.array([[5, 5, 5],
    ...                [0, 6, 6]], dtype=np.int16)
    >>> seg_ids, gt_ids, counts = contingency_table(seg, gt, ignore_gt=0)
    >>> seg_ids, gt_ids, counts
    (array([1, 2, 2], dtype=uint64), array([5, 5, 6], dtype=uint64), array([2, 1, 2]))
    """
    fn = "contingency_table"
    seg, gt = check_label_pair(seg, gt, fn)
    ignore_seg = label_ids(ignore_seg, seg.dtype, fn, "ignore_seg")
    ignore_gt = label_ids(ignore_gt, gt.dtype, fn, "ignore_gt")
    threads = as_threads(threads, fn)
    return contingency_table_unchecked(seg, gt, ignore_seg, ignore_gt, threads)


def contingency_table_unchecked(seg, gt, ignore_seg, ignore_gt, threads):
    """The kernel call, for callers that validated their arguments with the helpers below."""
    if seg.ndim == 0:  # one voxel: a 1D view
        seg, gt = seg.reshape(1), gt.reshape(1)
    return slowed("contingency_table", _ext.contingency_table, seg, gt, ignore_seg, ignore_gt, threads)


def check_label_pair(seg, gt, fn):
    """`seg` and `gt` as integer label arrays of the same shape, in native byte order."""
    seg = _native(as_label_array(seg, fn, "seg"))
    gt = _native(as_label_array(gt, fn, "gt"))
    if seg.shape != gt.shape:
        raise ValueError(
            f"{fn}: `seg` and `gt` must have the same shape; got seg shape {seg.shape} and gt shape {gt.shape}"
        )
    return seg, gt


def label_ids(values, dtype, fn, arg):
    """Ignore labels as the uint64 ids the kernel compares (values modulo 2**64), keeping only
    the values `dtype` can hold (the others match no voxel)."""
    if values is None:
        values = ()
    elif np.ndim(values) == 0:
        values = (values,)
    info = np.iinfo(dtype)
    ids = []
    for value in np.asarray(values, dtype=object).ravel().tolist():
        if isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{fn}: `{arg}` must hold integer labels; got {value!r}")
        try:
            value = operator.index(value)
        except TypeError:
            raise TypeError(
                f"{fn}: `{arg}` must hold integer labels; got {value!r} of type {type(value).__name__}"
            ) from None
        if info.min <= value <= info.max:
            ids.append(value % 2**64)
    return np.array(ids, dtype=np.uint64)


def _native(array):
    if array.dtype.byteorder in "<>" and not array.dtype.isnative:
        return array.astype(array.dtype.newbyteorder("="))
    return array
