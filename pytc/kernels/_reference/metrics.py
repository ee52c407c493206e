"""References for the contingency table and the segmentation metrics (numpy and scipy.sparse).

Conventions are those of `pytc.metrics`: voxels whose gt label is in `ignore_gt` or whose seg
label is in `ignore_seg` are dropped first; every other label, 0 included, is a segment.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse


def _ids(labels):
    """Labels as uint64 ids: their values modulo 2**64 (signed labels sign-extended)."""
    labels = np.asarray(labels).ravel()
    if np.issubdtype(labels.dtype, np.signedinteger):
        return labels.astype(np.int64).view(np.uint64)
    return labels.astype(np.uint64)


def contingency_table_ref(
    seg: ArrayLike, gt: ArrayLike, *, ignore_seg: int | Sequence[int] = (), ignore_gt: int | Sequence[int] = ()
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seg_ids, gt_ids, counts) like `pytc.kernels.contingency_table`, by ``np.unique`` over
    the stacked pairs of labels of the voxels that are not ignored."""
    seg, gt = np.asarray(seg).ravel(), np.asarray(gt).ravel()
    keep = np.ones(seg.shape, dtype=bool)
    for value in np.atleast_1d(np.asarray(ignore_seg, dtype=object)).tolist():
        keep &= seg != value  # numpy compares an integer array with a Python int by value
    for value in np.atleast_1d(np.asarray(ignore_gt, dtype=object)).tolist():
        keep &= gt != value
    pairs = np.stack([_ids(seg[keep]), _ids(gt[keep])], axis=1)
    if len(pairs) == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64), np.zeros(0, np.int64)
    cells, counts = np.unique(pairs, axis=0, return_counts=True)  # sorted by (seg, gt)
    return cells[:, 0].copy(), cells[:, 1].copy(), counts.astype(np.int64)


def _sparse_table(seg, gt, ignore_seg, ignore_gt):
    """The contingency table as a scipy.sparse CSR array n[i, j] (rows: seg, columns: gt)."""
    seg_ids, gt_ids, counts = contingency_table_ref(seg, gt, ignore_seg=ignore_seg, ignore_gt=ignore_gt)
    _, rows = np.unique(seg_ids, return_inverse=True)
    _, cols = np.unique(gt_ids, return_inverse=True)
    shape = (rows.max() + 1 if len(rows) else 0, cols.max() + 1 if len(cols) else 0)
    return sparse.csr_array((counts.astype(np.float64), (rows, cols)), shape=shape)


def adapted_rand_ref(
    seg: ArrayLike,
    gt: ArrayLike,
    *,
    ignore_gt: int | Sequence[int] = (0,),
    ignore_seg: int | Sequence[int] = (),
    return_all: bool = False,
) -> float | tuple[float, float, float]:
    """SNEMI3D adapted Rand error from a scipy.sparse contingency table.

    With n_ij the table, a_i its row sums (seg segment sizes), b_j its column sums (gt segment
    sizes) and N the number of voxels counted, the numbers of ordered pairs of distinct voxels
    that are together in both, in seg and in gt are ``sum n_ij^2 - N``, ``sum a_i^2 - N`` and
    ``sum b_j^2 - N``. precision = both / seg, recall = both / gt, error = 1 - F-score
    ``= 1 - 2 both / (seg + gt)``; a ratio 0/0 counts as 1 (nothing to get wrong).
    """
    n = _sparse_table(seg, gt, ignore_seg, ignore_gt)
    total = n.sum()
    both = (n.data**2).sum() - total
    in_seg = (n.sum(axis=1) ** 2).sum() - total
    in_gt = (n.sum(axis=0) ** 2).sum() - total
    precision = both / in_seg if in_seg else 1.0
    recall = both / in_gt if in_gt else 1.0
    error = 1.0 - (2 * both / (in_seg + in_gt) if in_seg + in_gt else 1.0)
    return (float(error), float(precision), float(recall)) if return_all else float(error)


def voi_ref(
    seg: ArrayLike, gt: ArrayLike, *, ignore_gt: int | Sequence[int] = (0,), ignore_seg: int | Sequence[int] = ()
) -> tuple[float, float]:
    """(split, merge) = (H(seg | gt), H(gt | seg)) in bits, from the joint distribution
    p_ij = n_ij / N and its marginals: H(seg | gt) = -sum p_ij log2(p_ij / p_j)."""
    n = _sparse_table(seg, gt, ignore_seg, ignore_gt).tocoo()
    total = n.sum()
    if total == 0:
        return 0.0, 0.0
    p = n.data / total
    p_seg = np.asarray(n.sum(axis=1)).ravel()[n.row] / total
    p_gt = np.asarray(n.sum(axis=0)).ravel()[n.col] / total
    split = -(p * np.log2(p / p_gt)).sum()
    merge = -(p * np.log2(p / p_seg)).sum()
    return float(split), float(merge)
