"""Average precision and semantic scores, checked by hand and against a loop-level matching on real labels."""

import json

import numpy as np
import pytest

from pytc.evaluate import main as evaluate_main
from pytc.metrics import average_precision, evaluate, semantic_scores
from pytc.testing import read_gala


def ap_loops(seg, gt, threshold):
    """Loop-level oracle: greedy matching in order of size (all scores equal), then 101-point interpolation."""
    preds = sorted((i for i in np.unique(seg) if i), key=lambda i: (-np.count_nonzero(seg == i), i))
    truths = [j for j in np.unique(gt) if j]
    taken, matched = set(), []
    for i in preds:
        best, best_iou = None, threshold
        for j in truths:
            inter = np.count_nonzero((seg == i) & (gt == j))
            iou = inter / np.count_nonzero((seg == i) | (gt == j))
            if j not in taken and iou >= best_iou and (best is None or iou > best_iou):
                best, best_iou = j, iou
        matched.append(best is not None)
        if best is not None:
            taken.add(best)
    tp = np.cumsum(matched)
    precision, recall = tp / np.arange(1, len(matched) + 1), tp / len(truths)
    total = 0.0
    for r in np.linspace(0, 1, 101):
        total += max([p for p, q in zip(precision, recall) if q >= r], default=0.0)
    return total / 101


def test_average_precision_by_hand():
    gt = np.array([[1, 1, 1, 0, 2, 2, 2, 2]])
    seg = np.array([[5, 5, 5, 0, 6, 6, 0, 0]])  # one exact, one with IoU 0.5
    scores = average_precision(seg, gt, [0.5, 0.75])
    assert scores["ap_50"] == 1.0 and scores["recall_50"] == 1.0 and scores["precision_50"] == 1.0
    assert scores["ap_75"] == pytest.approx(51 / 101)  # one of two found: precision 1 up to recall 0.5
    low_first = average_precision(seg, gt, [0.75], scores={5: 0.1, 6: 0.9})  # the false positive ranked first
    assert low_first["ap_75"] == pytest.approx(51 / 101 * 0.5)


@pytest.mark.real_data
def test_average_precision_matches_loops_on_real_labels():
    gt = read_gala("test-gt")[:10, :60, :60]
    rng = np.random.default_rng(0)
    seg = gt.copy()
    seg[rng.random(seg.shape) < 0.2] = 0  # noise
    seg[seg == 5] = 7  # a merge
    for threshold in (0.5, 0.75):
        assert average_precision(seg, gt, [threshold])[f"ap_{round(100 * threshold)}"] == pytest.approx(
            ap_loops(seg, gt, threshold)
        )


def test_semantic_scores():
    gt = np.array([0, 1, 1, 2, 2, 2])
    seg = np.array([0, 1, 2, 2, 2, 0])
    scores = semantic_scores(seg, gt)
    assert scores["iou_1"] == 0.5 and scores["iou_2"] == pytest.approx(2 / 4)
    assert scores["dice_1"] == pytest.approx(2 / 3) and scores["iou"] == pytest.approx(0.5)
    assert semantic_scores(np.array([True, False]), np.array([True, True]))["iou"] == 0.5


@pytest.mark.parametrize(
    "call",
    [
        lambda z: evaluate(z, z),
        lambda z: average_precision(z, z),
        lambda z: semantic_scores(z, z),
        lambda z: evaluate(z[:0], z[:0]),
    ],
)
def test_nothing_to_score_is_an_error_not_a_perfect_score(call):
    with pytest.raises(ValueError, match="nothing to score"):
        call(np.zeros((4, 5), np.uint32))


@pytest.mark.real_data
def test_evaluate_command(tmp_path, capsys):
    from pytc.data import write_volume

    gt = read_gala("test-gt")
    write_volume(tmp_path / "gt.h5", gt)
    write_volume(tmp_path / "seg.h5", gt, dataset="seg")
    assert evaluate_main(["--seg", f"{tmp_path / 'seg.h5'}:seg", "--gt", str(tmp_path / "gt.h5"), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["adapted_rand_error"] == 0.0
    assert (
        evaluate_main(
            [
                "--seg",
                f"{tmp_path / 'seg.h5'}:seg",
                "--gt",
                str(tmp_path / "gt.h5"),
                "--task",
                "instance",
                "--json",
                str(tmp_path / "f.json"),
            ]
        )
        == 0
    )
    assert "ap_75" in capsys.readouterr().out and json.loads((tmp_path / "f.json").read_text())["ap"] == 1.0
    write_volume(tmp_path / "zero.h5", np.zeros((2, 3, 4), np.uint8))
    assert evaluate_main(["--seg", str(tmp_path / "zero.h5"), "--gt", str(tmp_path / "zero.h5")]) == 2
    assert capsys.readouterr().err.startswith("error: evaluate: nothing to score")
