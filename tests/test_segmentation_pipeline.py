"""End to end on real data: boundary probabilities -> affinities -> watershed -> agglomeration -> scores."""

import numpy as np
import pytest

from pytc.decode import boundary_to_affinity
from pytc.kernels import agglomerate, mutex_watershed, watershed
from pytc.metrics import adapted_rand, evaluate
from pytc.testing import read_gala, require_data

THRESHOLDS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]


@pytest.mark.real_data
@pytest.mark.parametrize("volume", ["train", "test"])
def test_gala_pipeline_beats_shipped_fragments(volume):
    p, gt, shipped = read_gala(f"{volume}-p1"), read_gala(f"{volume}-gt"), read_gala(f"{volume}-ws")
    aff = boundary_to_affinity(p)
    fragments = watershed(aff)
    assert fragments.dtype == np.uint64 and fragments.shape == gt.shape
    errors = [adapted_rand(seg, gt) for seg in agglomerate(aff, THRESHOLDS, fragments=fragments)]
    baseline = adapted_rand(shipped, gt)
    assert min(errors) < baseline, (errors, baseline)
    best = evaluate(agglomerate(aff, [THRESHOLDS[int(np.argmin(errors))]])[0], gt)
    assert best["voi"] < evaluate(shipped, gt)["voi"]


@pytest.mark.real_data
def test_snemi_mini_pipeline_beats_shipped_fragments():
    import tifffile

    gt = tifffile.imread(require_data("gala_snemi_mini_labels_only", "train-labels.tif"))
    shipped = tifffile.imread(require_data("gala_snemi_mini_labels_only", "train-fragments.tif"))
    p = tifffile.imread(require_data("gala_snemi_mini_labels_only", "train-probabilities.tif"))
    aff = boundary_to_affinity(p)
    errors = [adapted_rand(seg, gt, ignore_gt=()) for seg in agglomerate(aff, THRESHOLDS)]
    assert min(errors) < adapted_rand(shipped, gt, ignore_gt=())


@pytest.mark.real_data
def test_mutex_watershed_on_real_affinities_is_a_reasonable_segmentation():
    p, gt = read_gala("train-p1"), read_gala("train-gt")
    offsets = [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (-2, 0, 0), (0, -3, 0), (0, 0, -3), (0, -9, 0), (0, 0, -9)]
    seg = mutex_watershed(boundary_to_affinity(p, offsets), offsets, strides=(1, 2, 2))
    assert adapted_rand(seg, gt) < 0.5
