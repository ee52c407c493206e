"""Validation with the task's real metric: sliding-window prediction of the validation volumes, decoding,
and scoring against their labels.

- affinity tasks: watershed and agglomeration (`val.scoring`) at `val.thresholds`; the best adapted Rand
  error, with the variation of information (split, merge) at that threshold;
- other tasks: IoU and Dice of the thresholded prediction against the task's target (sigmoid at 0.5,
  tanh at 0; softmax by arg max, averaged over the classes present).
"""

import numpy as np

from ..data.targets import build_targets
from ..inference import predict_array
from ..kernels import DEFAULT_OFFSETS, agglomerate
from ..metrics import adapted_rand, voi

LOWER_IS_BETTER = {"adapted_rand": True, "voi": True, "iou": False, "dice": False}


def segments_affinities(task):
    """True when a task's first three channels are 3D nearest-neighbour affinities (watershed-ready)."""
    if task.target["name"] != "affinity":
        return False
    offsets = task.target.get("offsets") or DEFAULT_OFFSETS[3]
    return [tuple(o) for o in offsets[:3]] == list(DEFAULT_OFFSETS[3])


def metric_name(cfg, layout):
    """The metric that picks the best checkpoint ('auto' resolved)."""
    if cfg.val.metric != "auto":
        return cfg.val.metric
    return "adapted_rand" if any(segments_affinities(t) for t in layout) else "iou"


def _overlap_scores(prediction, target, activation):
    """(IoU, Dice) of a thresholded prediction against a target, both (C, Z, Y, X)."""
    if activation == "softmax":
        predicted, truth = prediction.argmax(0), target[0].astype(np.int64)
        ious, dices = [], []
        for k in np.unique(truth):
            p, t = predicted == k, truth == k
            inter, union = np.count_nonzero(p & t), np.count_nonzero(p | t)
            ious.append(inter / union)
            dices.append(2 * inter / (np.count_nonzero(p) + np.count_nonzero(t)))
        return float(np.mean(ious)), float(np.mean(dices))
    cut = 0.0 if activation == "tanh" else 0.5
    p, t = prediction > cut, target > cut
    inter, union, total = np.count_nonzero(p & t), np.count_nonzero(p | t), np.count_nonzero(p) + np.count_nonzero(t)
    return (inter / union if union else 1.0), (2 * inter / total if total else 1.0)


def score_volume(prediction, label, layout, thresholds, scoring="quantile-50-histogram"):
    """Metrics {name: value} of one predicted volume, and the best segmentation (or None)."""
    metrics, segmentation = {}, None
    for task in layout:
        output = prediction[slice(*task.output)]
        if segments_affinities(task):
            best = None
            for threshold, seg in zip(thresholds, agglomerate(output[:3], list(thresholds), scoring=scoring)):
                error = adapted_rand(seg, label)
                if best is None or error < best[0]:
                    best = (error, threshold, seg)
            error, threshold, segmentation = best
            split, merge = voi(segmentation, label)
            metrics.update(
                {
                    f"{task.name}/adapted_rand": error,
                    f"{task.name}/voi_split": split,
                    f"{task.name}/voi_merge": merge,
                    f"{task.name}/threshold": threshold,
                }
            )
        else:
            spec = {k: v for k, v in task.target.items() if k not in ("weight", "alpha", "w0", "sigma")}
            target = build_targets(label, [spec])[0]
            iou, dice = _overlap_scores(output, target, task.activation)
            metrics.update({f"{task.name}/iou": iou, f"{task.name}/dice": dice})
    return metrics, segmentation


def summary_score(metrics, name):
    """The value of metric `name` over all tasks (mean of the tasks that report it; VOI is split + merge)."""
    if name == "voi":
        values = [v + metrics[k[: -len("split")] + "merge"] for k, v in metrics.items() if k.endswith("/voi_split")]
    else:
        values = [v for k, v in metrics.items() if k.endswith("/" + name)]
    if not values:
        raise ValueError(f"val.metric: no task reports {name!r}; reported: {sorted(metrics)}")
    return float(np.mean(values))


def validate(model, volumes, layout, cfg, device, channels_last=False):
    """Predicts and scores every validation volume.

    `volumes` is a list of (normalised image (Z, Y, X) float32, label (Z, Y, X)). Returns (metrics averaged
    over volumes, predictions, segmentations) for the first volume's images.
    """
    window = cfg.val.window or cfg.data.sample_shape
    activations = [(*t.output, t.activation) for t in layout]
    totals, first = {}, None
    for image, label in volumes:
        prediction = predict_array(
            model,
            image,
            window,
            overlap=cfg.val.overlap,
            batch=cfg.val.batch,
            activations=activations,
            device=device,
            precision=cfg.solver.precision,
            channels_last=channels_last,
        )
        metrics, segmentation = score_volume(prediction, label, layout, cfg.val.thresholds, cfg.val.scoring)
        for key, value in metrics.items():
            totals.setdefault(key, []).append(value)
        if first is None:
            first = (prediction, segmentation)
    return {key: float(np.mean(values)) for key, values in totals.items()}, first
