import numpy as np
import pytest

from pytc.config.schema import TaskConfig
from pytc.data.tasks import task_layout
from pytc.kernels import seg_to_affinity
from pytc.testing import read_gala
from pytc.train.validation import score_volume, segments_affinities, summary_score


@pytest.mark.real_data
def test_perfect_affinities_score_perfectly_on_real_labels():
    gt = read_gala("test-gt")
    layout = task_layout([TaskConfig("affinity"), TaskConfig("binary")])
    prediction = np.concatenate([seg_to_affinity(gt), (gt > 0)[None].astype(np.float32)])
    metrics, segmentation = score_volume(prediction, gt, layout, [0.3, 0.5])
    assert metrics["affinity/adapted_rand"] < 0.01 and metrics["affinity/voi_merge"] < 0.05
    assert metrics["binary/iou"] == 1.0 and metrics["binary/dice"] == 1.0
    assert segmentation.shape == gt.shape
    assert summary_score(metrics, "voi") == metrics["affinity/voi_split"] + metrics["affinity/voi_merge"]


def test_overlap_scores_by_hand_and_softmax():
    label = np.zeros((1, 4, 4), np.uint32)
    label[0, :2] = 1
    layout = task_layout([TaskConfig("binary"), TaskConfig("semantic", options={"num_classes": 2})])
    prediction = np.zeros((3, 1, 4, 4), np.float32)
    prediction[0, 0, :1] = 1  # binary: half the foreground found, nothing else: IoU 1/2, Dice 2/3
    prediction[1], prediction[2] = 1 - prediction[0], prediction[0]  # semantic: scores of classes 0 and 1
    metrics, segmentation = score_volume(prediction, label, layout, [0.5])
    assert segmentation is None
    assert metrics["binary/iou"] == 0.5 and np.isclose(metrics["binary/dice"], 2 / 3)
    assert np.isclose(metrics["semantic/iou"], (0.5 + 8 / 12) / 2)  # class 1: 4/8, class 0: 8/12


def test_only_nearest_neighbour_affinities_are_segmented():
    assert segments_affinities(task_layout([TaskConfig("affinity")])[0])
    long_range = TaskConfig("affinity", options={"offsets": [[-2, 0, 0], [0, -1, 0], [0, 0, -1]]})
    assert not segments_affinities(task_layout([long_range])[0])
