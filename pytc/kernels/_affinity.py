"""Segmentation to affinity graph (public wrapper of the compiled kernel)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .._extension import load
from .._slowdown import slowed
from ..validation import as_label_array, as_threads
from ._memory import empty
from ._offsets import as_offsets

_ext = load()

_OUTPUT_DTYPES = (np.dtype(np.float32), np.dtype(np.uint8))


def seg_to_affinity(
    seg: ArrayLike,
    offsets: ArrayLike | None = None,
    *,
    dtype: DTypeLike = np.float32,
    return_mask: bool = False,
    threads: int | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Affinity graph of a segmentation.

    ``aff[c, v] = 1`` where ``seg[v] != 0`` and ``seg[v] == seg[v + offsets[c]]``, else 0.
    Where ``v + offsets[c]`` falls outside the volume the affinity is 0.

    Parameters
    ----------
    seg : ndarray, shape (Y, X) or (Z, Y, X)
        Integer labels (uint8/16/32/64 or int8/16/32/64), 0 = background. Any memory layout
        (C order, Fortran order, strided or read-only views); never modified or copied.
    offsets : sequence of int tuples, shape (C, seg.ndim), optional
        Channel c links v with ``v + offsets[c]``; any sign, long-range allowed. Default:
        ``[(-1, 0, 0), (0, -1, 0), (0, 0, -1)]`` in 3D and ``[(-1, 0), (0, -1)]`` in 2D.
    dtype : {np.float32, np.uint8}
        Output dtype.
    return_mask : bool
        Also return a uint8 array of the same shape, 1 where ``v + offsets[c]`` is inside
        the volume (the edge exists), 0 elsewhere.
    threads : int, optional
        Number of threads; default: OpenMP's (``OMP_NUM_THREADS`` or all cores).
    out : ndarray, optional
        C-contiguous array of shape (C, *seg.shape) and dtype `dtype` to write into, e.g. a
        buffer reused across training samples (saves allocating and zeroing fresh memory,
        which costs about as much as the kernel itself on large volumes).

    Returns
    -------
    aff : ndarray, shape (C, *seg.shape), C-contiguous, of `dtype` (`out` if given)
    valid : ndarray, shape (C, *seg.shape), uint8
        Only if `return_mask` is True.

    Notes
    -----
    One pass over the labels, all channels per row, OpenMP over rows. C-order input is fastest;
    Fortran-order input works without a copy but runs about 5x slower (it is a transpose).

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.kernels import seg_to_affinity
    >>> seg = np.array([[1, 1, 2],
    ...                 [1, 0, 2]], dtype=np.uint32)
    >>> seg_to_affinity(seg)[1]  # channel (0, -1): link to the left neighbour
    array([[0., 1., 0.],
           [0., 0., 0.]], dtype=float32)
    """
    fn = "seg_to_affinity"
    seg = as_label_array(seg, fn, "seg")
    if seg.ndim not in (2, 3):
        raise ValueError(f"{fn}: `seg` must be 2D (Y, X) or 3D (Z, Y, X); got ndim={seg.ndim}, shape {seg.shape}")
    offsets = as_offsets(offsets, seg.ndim, fn)
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{fn}: `dtype` must be float32 or uint8; got {dtype!r}") from None
    if dtype not in _OUTPUT_DTYPES:
        raise TypeError(f"{fn}: `dtype` must be float32 or uint8; got {dtype}")
    threads = as_threads(threads, fn)

    shape = (len(offsets),) + seg.shape
    aff = empty(shape, dtype) if out is None else _check_out(out, shape, dtype, seg, fn)
    valid = np.empty(shape, dtype=np.uint8) if return_mask else None
    if seg.ndim == 2:
        # A 2D volume is one z-section: add a unit z axis (a view) and a zero z offset.
        seg = seg[np.newaxis]
        offsets = np.ascontiguousarray(np.pad(offsets, ((0, 0), (1, 0))))
    as_3d = (len(offsets),) + seg.shape
    valid_3d = None if valid is None else valid.reshape(as_3d)
    slowed("seg_to_affinity", _ext.seg_to_affinity, seg, offsets, aff.reshape(as_3d), valid_3d, threads)
    return (aff, valid) if return_mask else aff


def _check_out(out, shape, dtype, seg, fn):
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{fn}: `out` must be a numpy array or None; got {type(out).__name__}")
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(
            f"{fn}: `out` must have shape {shape} and dtype {dtype} (len(offsets), *seg.shape and "
            f"`dtype`); got shape {out.shape} and dtype {out.dtype}"
        )
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(
            f"{fn}: `out` must be C-contiguous and writable; got C_CONTIGUOUS="
            f"{out.flags.c_contiguous}, WRITEABLE={out.flags.writeable}"
        )
    if np.may_share_memory(out, seg):
        raise ValueError(f"{fn}: `out` must not share memory with `seg`")
    return out
