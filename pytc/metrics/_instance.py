"""Instance and semantic scores: average precision over IoU thresholds (as COCO and MitoEM report it), and
per-class IoU and Dice. Overlaps come from the compiled contingency table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from ..kernels._contingency import check_label_pair, contingency_table_unchecked, label_ids

DEFAULT_IOU_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2))
_RECALL_POINTS = np.linspace(0, 1, 101)


def _overlaps(seg, gt, fn):
    """(predicted ids, their sizes, gt ids, their sizes, pairs (i, j, intersection)) of nonzero labels."""
    seg, gt = check_label_pair(seg, gt, fn)
    if seg.size == 0:
        raise ValueError(f"{fn}: `seg` and `gt` are empty (shape {seg.shape}); nothing to score")
    seg_ids, gt_ids, counts = contingency_table_unchecked(
        seg, gt, label_ids((), seg.dtype, fn, "ignore_seg"), label_ids((), gt.dtype, fn, "ignore_gt"), 0
    )
    pred, true = np.unique(seg_ids[seg_ids != 0]), np.unique(gt_ids[gt_ids != 0])
    if len(true) == 0:
        raise ValueError(f"{fn}: `gt` has no instance (every voxel is 0); nothing to score")
    pred_sizes = np.bincount(np.searchsorted(pred, seg_ids[seg_ids != 0]), counts[seg_ids != 0], len(pred))
    true_sizes = np.bincount(np.searchsorted(true, gt_ids[gt_ids != 0]), counts[gt_ids != 0], len(true))
    both = (seg_ids != 0) & (gt_ids != 0)
    pairs = (np.searchsorted(pred, seg_ids[both]), np.searchsorted(true, gt_ids[both]), counts[both])
    return pred, pred_sizes, true, true_sizes, pairs


def _interpolated_ap(matched, n_true):
    """COCO's 101-point interpolated average precision of predictions in score order."""
    if len(matched) == 0:
        return 0.0
    tp = np.cumsum(matched)
    precision = tp / np.arange(1, len(matched) + 1)
    recall = tp / n_true
    envelope = np.maximum.accumulate(precision[::-1])[::-1]  # best precision at this recall or beyond
    index = np.searchsorted(recall, _RECALL_POINTS, side="left")
    return float(np.mean(np.where(index < len(envelope), envelope[np.minimum(index, len(envelope) - 1)], 0.0)))


def average_precision(
    seg: ArrayLike,
    gt: ArrayLike,
    thresholds: Sequence[float] = DEFAULT_IOU_THRESHOLDS,
    *,
    scores: Mapping[int, float] | None = None,
) -> dict[str, float]:
    """Average precision of predicted instances at each IoU threshold (COCO's definition, as MitoEM reports it).

    Predictions are taken in order of decreasing score (ties: larger first); each is a true positive when it
    matches a ground-truth instance not yet matched with IoU >= t (the best such one), else a false positive.
    AP is the mean, over 101 recall levels, of the best precision at that recall or beyond.

    Parameters
    ----------
    seg, gt : ndarray of int, same shape
        Instance ids; 0 is background in both.
    thresholds : sequence of float in (0, 1]
        Default 0.5, 0.55, ..., 0.95.
    scores : dict id -> float, optional
        A confidence per predicted instance (e.g. its mean foreground probability); default 1 for all.

    Returns
    -------
    dict
        ``ap_50``-style keys per threshold (``ap_50``, ``ap_75``...), ``ap`` (their mean), and
        ``precision_50``, ``recall_50`` (at IoU 0.5, all predictions counted), plus the instance counts.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.array([[1, 1, 0, 2, 2]])
    >>> scores = average_precision(np.array([[1, 1, 0, 0, 3]]), gt, [0.5, 0.75])  # IoUs 1 and 0.5
    >>> scores["ap_50"], round(scores["ap_75"], 3), scores["recall_50"]  # 101-point AP: 51 of 101 at 0.75
    (1.0, 0.505, 1.0)
    """
    fn = "average_precision"
    thresholds = [float(t) for t in thresholds]
    if not thresholds or not all(0 < t <= 1 for t in thresholds):
        raise ValueError(f"{fn}: `thresholds` must be IoU values in (0, 1]; got {thresholds}")
    pred, pred_sizes, true, true_sizes, (pi, ti, inter) = _overlaps(seg, gt, fn)
    iou = inter / (pred_sizes[pi] + true_sizes[ti] - inter)
    confidence = np.ones(len(pred)) if scores is None else np.array([float(scores.get(int(p), 0.0)) for p in pred])
    order = np.lexsort((-pred_sizes, -confidence))  # by score, then by size
    candidates = [[] for _ in pred]
    for p, t, value in sorted(zip(pi, ti, iou), key=lambda c: -c[2]):
        candidates[p].append((value, t))
    result = {"instances": len(pred), "gt_instances": len(true)}
    aps = []
    for threshold in thresholds:
        taken = np.zeros(len(true), bool)
        matched = np.zeros(len(pred), bool)
        for rank, p in enumerate(order):
            for value, t in candidates[p]:
                if value < threshold:
                    break
                if not taken[t]:
                    taken[t], matched[rank] = True, True
                    break
        ap = _interpolated_ap(matched, len(true))
        aps.append(ap)
        key = f"{round(100 * threshold):02d}"
        result[f"ap_{key}"] = ap
        if key == "50":
            result["precision_50"] = float(matched.mean()) if len(pred) else 0.0
            result["recall_50"] = float(taken.mean())
    result["ap"] = float(np.mean(aps))
    return result


def semantic_scores(seg: ArrayLike, gt: ArrayLike, classes: Sequence[int] | None = None) -> dict[str, float]:
    """IoU and Dice per class of a semantic (class id) segmentation, and their means.

    Parameters
    ----------
    seg, gt : ndarray of int, same shape (binary masks are classes 0 and 1)
    classes : sequence of int, optional
        Classes to score; default every nonzero class present in `gt` or `seg`.

    Returns
    -------
    dict: ``iou`` and ``dice`` (means over the classes), and ``iou_<k>``, ``dice_<k>`` per class k.
    """
    fn = "semantic_scores"
    seg, gt = (np.asarray(a) for a in (seg, gt))
    seg, gt = check_label_pair(*(a.view(np.uint8) if a.dtype == bool else a for a in (seg, gt)), fn)
    if seg.size == 0:
        raise ValueError(f"{fn}: `seg` and `gt` are empty (shape {seg.shape}); nothing to score")
    if classes is None:
        classes = sorted((set(np.unique(gt).tolist()) | set(np.unique(seg).tolist())) - {0})
        if not classes:
            raise ValueError(f"{fn}: neither `gt` nor `seg` has a nonzero class; nothing to score")
    result, ious, dices = {}, [], []
    for k in classes:
        p, t = seg == k, gt == k
        inter, total = np.count_nonzero(p & t), np.count_nonzero(p) + np.count_nonzero(t)
        iou = inter / (total - inter) if total else 1.0
        dice = 2 * inter / total if total else 1.0
        result[f"iou_{k}"], result[f"dice_{k}"] = float(iou), float(dice)
        ious.append(iou)
        dices.append(dice)
    result["iou"], result["dice"] = float(np.mean(ious)), float(np.mean(dices))
    return result
