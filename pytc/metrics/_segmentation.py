"""Adapted Rand error and variation of information of a segmentation against ground truth.

The contingency table n_ij (voxels with seg label i and gt label j) comes from the compiled
kernel in one pass over the voxels; everything else is a few numpy reductions over its P
nonzero cells (P is the number of distinct label pairs, far below the number of voxels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from ..kernels._contingency import check_label_pair, contingency_table_unchecked, label_ids
from ..validation import as_threads


def adapted_rand(
    seg: ArrayLike,
    gt: ArrayLike,
    *,
    ignore_gt: int | Sequence[int] = (0,),
    ignore_seg: int | Sequence[int] = (),
    return_all: bool = False,
    threads: int | None = None,
) -> float | tuple[float, float, float]:
    """Adapted Rand error of the SNEMI3D challenge (1 - F-score of Rand precision and recall).

    Parameters
    ----------
    seg : ndarray of int
        Segmentation to evaluate. Any integer dtype, rank and memory layout; never modified.
    gt : ndarray of int, same shape as `seg`
        Ground truth; its dtype may differ from `seg`'s.
    ignore_gt : int or sequence of int
        Voxels whose `gt` label is one of these are not counted (default: 0, the boundary and
        unlabelled voxels of EM ground truth).
    ignore_seg : int or sequence of int
        Voxels whose `seg` label is one of these are not counted either (default: none, so a
        seg label 0 is an ordinary segment).
    return_all : bool
        Also return the Rand precision and recall.
    threads : int, optional
        Threads for the contingency table; default: OpenMP's.

    Returns
    -------
    error : float
        In [0, 1]; 0 for a perfect segmentation (up to a renaming of the labels).
    precision, recall : float
        Only if `return_all`. precision: of the pairs of voxels in the same seg segment, the
        fraction also in the same gt segment (low when seg merges); recall: of the pairs in the
        same gt segment, the fraction also in the same seg segment (low when seg splits).

    Notes
    -----
    With n_ij the table, a_i = sum_j n_ij (seg sizes), b_j = sum_i n_ij (gt sizes) and N the
    number of voxels counted, pairs are ordered pairs of distinct voxels:
    ``both = sum n_ij^2 - N``, ``in_seg = sum a_i^2 - N``, ``in_gt = sum b_j^2 - N``,
    precision = both / in_seg, recall = both / in_gt and
    ``error = 1 - 2 precision recall / (precision + recall) = 1 - 2 both / (in_seg + in_gt)``.
    This is scikit-image's ``adapted_rand_error(image_true=gt, image_test=seg)`` (same error),
    except that scikit-image 0.26 returns precision and recall swapped (its issue #6485): its
    "precision" is the recall above. A ratio 0/0 (no pair of voxels in a segment, e.g. nothing
    counted) is taken as 1, so an empty or fully ignored volume gives error 0.0, precision 1.0
    and recall 1.0 instead of NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.metrics import adapted_rand
    >>> gt = np.array([[1, 1, 2, 2]], dtype=np.uint16)
    >>> adapted_rand(np.array([[7, 7, 3, 3]]), gt)  # same segments, other names
    0.0
    >>> adapted_rand(np.array([[7, 7, 7, 7]]), gt, return_all=True)  # a merge
    (0.5, 0.3333333333333333, 1.0)
    """
    table = _table(seg, gt, ignore_gt, ignore_seg, threads, "adapted_rand")
    error, precision, recall = _rand(*table)
    return (error, precision, recall) if return_all else error


def voi(
    seg: ArrayLike,
    gt: ArrayLike,
    *,
    ignore_gt: int | Sequence[int] = (0,),
    ignore_seg: int | Sequence[int] = (),
    threads: int | None = None,
) -> tuple[float, float]:
    """Variation of information, split into its over- and under-segmentation parts, in bits.

    Parameters
    ----------
    seg, gt, ignore_gt, ignore_seg, threads
        As in `adapted_rand`.

    Returns
    -------
    split : float
        H(seg | gt): false splits (over-segmentation). 0 when every gt segment is one seg segment.
    merge : float
        H(gt | seg): false merges (under-segmentation). The VOI is ``split + merge``.

    Notes
    -----
    ``H(seg | gt) = -sum_ij p_ij log2(p_ij / p_j)`` with p_ij = n_ij / N and p_j the gt
    marginal. Equals ``skimage.metrics.variation_of_information(gt, seg, ignore_labels=ignore_gt)``
    (which returns [split, merge] and ignores the voxels where its first image is in
    `ignore_labels`). Nothing counted gives (0.0, 0.0).

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.metrics import voi
    >>> gt = np.array([[1, 1, 2, 2]], dtype=np.uint16)
    >>> voi(np.array([[5, 6, 3, 3]]), gt)  # half of the voxels split in two
    (0.5, 0.0)
    """
    return _voi(*_table(seg, gt, ignore_gt, ignore_seg, threads, "voi"))


def evaluate(
    seg: ArrayLike,
    gt: ArrayLike,
    *,
    ignore_gt: int | Sequence[int] = (0,),
    ignore_seg: int | Sequence[int] = (),
    threads: int | None = None,
) -> dict[str, float]:
    """All the metrics from one contingency table.

    Parameters
    ----------
    seg, gt, ignore_gt, ignore_seg, threads
        As in `adapted_rand`.

    Returns
    -------
    dict
        ``adapted_rand_error``, ``rand_precision``, ``rand_recall`` (see `adapted_rand`),
        ``voi_split``, ``voi_merge`` (see `voi`) and ``voi`` (their sum), all floats. Raises ValueError when
        nothing is counted (an all-background ground truth, or empty arrays) instead of a perfect score.

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.metrics import evaluate
    >>> gt = np.array([[0, 1, 1, 2, 2]], dtype=np.uint16)
    >>> scores = evaluate(np.array([[9, 7, 7, 7, 7]]), gt)  # gt 0 is ignored: one merge
    >>> scores["adapted_rand_error"], scores["voi_merge"], scores["voi_split"]
    (0.5, 1.0, 0.0)
    """
    table = _table(seg, gt, ignore_gt, ignore_seg, threads, "evaluate")
    if len(table[2]) == 0:
        raise ValueError(
            f"evaluate: nothing to score: `gt` (shape {np.shape(gt)}) has no voxel outside `ignore_gt` "
            f"{ignore_gt}, or `seg` none outside `ignore_seg` {ignore_seg}"
        )
    return scores_from_table(*table)


def scores_from_table(seg_ids: ArrayLike, gt_ids: ArrayLike, counts: ArrayLike) -> dict[str, float]:
    """`evaluate`'s metrics from a contingency table, e.g. the sum of the tables of a volume's blocks.

    `seg_ids`, `gt_ids` and `counts` list the nonzero cells as `pytc.kernels.contingency_table` returns them
    (ignored labels already left out); the cells need not be sorted or unique: repeated (seg, gt) pairs add up.
    """
    seg_ids, gt_ids = np.asarray(seg_ids, dtype=np.uint64).ravel(), np.asarray(gt_ids, dtype=np.uint64).ravel()
    counts = np.asarray(counts).ravel()
    if not seg_ids.shape == gt_ids.shape == counts.shape:
        raise ValueError(
            "scores_from_table: `seg_ids`, `gt_ids` and `counts` must have the same length; got "
            f"{seg_ids.shape}, {gt_ids.shape} and {counts.shape}"
        )
    pairs, where = np.unique(np.stack([seg_ids, gt_ids], axis=1), axis=0, return_inverse=True)
    summed = np.zeros(len(pairs), dtype=np.int64)
    np.add.at(summed, where.ravel(), counts.astype(np.int64))
    table = (pairs[:, 0], pairs[:, 1], summed)
    error, precision, recall = _rand(*table)
    split, merge = _voi(*table)
    return {
        "adapted_rand_error": error,
        "rand_precision": precision,
        "rand_recall": recall,
        "voi_split": split,
        "voi_merge": merge,
        "voi": split + merge,
    }


def _table(seg, gt, ignore_gt, ignore_seg, threads, fn):
    seg, gt = check_label_pair(seg, gt, fn)
    ignore_seg = label_ids(ignore_seg, seg.dtype, fn, "ignore_seg")
    ignore_gt = label_ids(ignore_gt, gt.dtype, fn, "ignore_gt")
    return contingency_table_unchecked(seg, gt, ignore_seg, ignore_gt, as_threads(threads, fn))


def _segment_sizes(seg_ids, gt_ids, counts):
    """Sizes (float64) of the seg and gt segments, as arrays over segments and over cells."""
    starts = np.flatnonzero(np.concatenate(([True], seg_ids[1:] != seg_ids[:-1])))  # table sorted by seg
    seg_sizes = np.add.reduceat(counts, starts).astype(np.float64)
    seg_of_cell = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(counts))))
    _, gt_of_cell = np.unique(gt_ids, return_inverse=True)
    gt_sizes = np.bincount(gt_of_cell, weights=counts)
    return seg_sizes, gt_sizes, seg_of_cell, gt_of_cell


def _ratio(numerator, denominator):
    return float(numerator / denominator) if denominator else 1.0


def _rand(seg_ids, gt_ids, counts):
    if len(counts) == 0:
        return 0.0, 1.0, 1.0
    seg_sizes, gt_sizes, _, _ = _segment_sizes(seg_ids, gt_ids, counts)
    n = counts.astype(np.float64)
    total = n.sum()
    both = n @ n - total
    in_seg = seg_sizes @ seg_sizes - total
    in_gt = gt_sizes @ gt_sizes - total
    return 1.0 - _ratio(2 * both, in_seg + in_gt), _ratio(both, in_seg), _ratio(both, in_gt)


def _voi(seg_ids, gt_ids, counts):
    if len(counts) == 0:
        return 0.0, 0.0
    seg_sizes, gt_sizes, seg_of_cell, gt_of_cell = _segment_sizes(seg_ids, gt_ids, counts)
    n = counts.astype(np.float64)
    p = n / n.sum()
    split = -(p @ np.log2(n / gt_sizes[gt_of_cell]))
    merge = -(p @ np.log2(n / seg_sizes[seg_of_cell]))
    return float(split) + 0.0, float(merge) + 0.0  # + 0.0: no -0.0
