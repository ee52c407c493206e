"""The trainer checks that the dataset's target channels are the ones the criterion reads."""

import numpy as np
import pytest

from pytc.config.schema import TaskConfig
from pytc.data import VolumeDataset
from pytc.data.tasks import task_layout
from pytc.losses import MultitaskCriterion
from pytc.train.trainer import check_target_channels


def dataset(targets, sample_shape=(2, 8, 8)):
    gt = np.zeros((4, 16, 16), np.uint32)
    gt[:, :, 8:] = 1
    return VolumeDataset(np.zeros((4, 16, 16), np.float32), gt, sample_shape=sample_shape, targets=targets)


@pytest.mark.parametrize("ndim", [2, 3])
def test_layout_and_dataset_agree(ndim):
    layout = task_layout([TaskConfig("affinity"), TaskConfig("binary", weight="ratio")], ndim)
    ds = dataset([task.target for task in layout], (2, 8, 8)[-ndim:])
    check_target_channels(ds, layout)
    # the dataset's channels give the criterion `from_target_channels` the same tasks as the layout
    criterion = MultitaskCriterion.from_target_channels(
        ds.target_channels, {"affinity": [("bce", 1.0)], "binary": [("bce", 1.0)]}
    )
    assert [task["target"] for task in criterion.tasks] == [task.channels for task in layout]


def test_disagreement_is_an_error():
    layout = task_layout([TaskConfig("affinity")], 3)
    ds = dataset([{"name": "affinity", "offsets": [(-1, 0, 0), (0, -1, 0)]}])
    with pytest.raises(
        ValueError,
        match=r"dataset's target channels \[\('affinity', 0, 2\)\] are not the task "
        r"layout's \[\('affinity', 0, 3\)\]",
    ):
        check_target_channels(ds, layout)
    no_targets = VolumeDataset(np.zeros((4, 16, 16), np.float32), sample_shape=(2, 8, 8))
    check_target_channels(no_targets, layout)
