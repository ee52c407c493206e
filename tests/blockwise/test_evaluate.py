"""evaluate_blockwise: pytc.metrics.evaluate of the whole volumes, from contingency tables summed over blocks."""

import numpy as np
import pytest

from pytc.blockwise import evaluate_blockwise
from pytc.data import write_volume
from pytc.decode import boundary_to_affinity
from pytc.kernels import agglomerate
from pytc.metrics import evaluate
from pytc.testing import gala_spec, read_gala

KEYS = {"adapted_rand_error", "rand_precision", "rand_recall", "voi_split", "voi_merge", "voi"}


def write_input(path, array):
    write_volume(path, array, "volume", compression=None)
    return f"{path}:volume"


def assert_scores_equal(result, expected):
    assert result.keys() == expected.keys() == KEYS
    for key in KEYS:
        assert result[key] == pytest.approx(expected[key], rel=1e-9, abs=1e-12), key


@pytest.mark.parametrize(("ignore_gt", "ignore_seg"), [((0,), ()), ((0, 3), (1, 70000))])
def test_random_equals_evaluate(client, tmp_path, ignore_gt, ignore_seg):
    rng = np.random.default_rng(7)
    shape = (19, 23, 29)
    gt = rng.integers(0, 12, shape).astype(np.int32)
    seg = (gt * 3 + rng.integers(0, 4, shape)) % 17  # overlapping, neither a split nor a merge of gt
    seg = seg.astype(np.uint16)
    result = evaluate_blockwise(
        write_input(tmp_path / "seg.h5", seg),
        write_input(tmp_path / "gt.zarr", gt),
        block_shape=(8, 9, 10),
        ignore_gt=ignore_gt,
        ignore_seg=ignore_seg,
        client=client,
        progress=False,
    )
    expected = evaluate(seg, gt, ignore_gt=ignore_gt, ignore_seg=ignore_seg)
    assert_scores_equal(result, expected)
    assert 0 < expected["adapted_rand_error"] < 1 and expected["voi"] > 0.1


@pytest.mark.real_data
def test_gala_equals_evaluate(client, tmp_path):
    """test-p1 agglomerated, and gala's own watershed test-ws, against test-gt."""
    gt = read_gala("test-gt")
    p = read_gala("test-p1").astype(np.float32)
    (agglomerated,) = agglomerate(boundary_to_affinity(p), [0.3])
    segmentations = {
        "agglomerated": write_input(tmp_path / "seg.zarr", agglomerated),
        "test-ws": gala_spec("test-ws"),
    }
    for name, spec in segmentations.items():
        seg = agglomerated if name == "agglomerated" else read_gala("test-ws")
        result = evaluate_blockwise(spec, gala_spec("test-gt"), block_shape=(20, 40, 80), client=client, progress=False)
        expected = evaluate(seg, gt)
        assert_scores_equal(result, expected)
        assert 0.01 < expected["adapted_rand_error"] < 0.9, name


def test_nothing_to_score(client, tmp_path):
    gt = np.zeros((5, 6, 7), np.uint8)
    seg = np.ones((5, 6, 7), np.uint8)
    with pytest.raises(ValueError, match="evaluate_blockwise: nothing to score"):
        evaluate_blockwise(
            write_input(tmp_path / "seg.zarr", seg),
            write_input(tmp_path / "gt.zarr", gt),
            block_shape=(2, 3, 4),
            client=client,
            progress=False,
        )


def test_errors(tmp_path):
    seg = write_input(tmp_path / "seg.zarr", np.ones((5, 6, 7), np.uint8))
    gt = write_input(tmp_path / "gt.zarr", np.ones((5, 6, 8), np.uint8))
    floats = write_input(tmp_path / "floats.zarr", np.ones((5, 6, 7), np.float32))
    flat = write_input(tmp_path / "flat.zarr", np.ones((6, 7), np.uint8))
    with pytest.raises(ValueError, match=r"`gt` must be a volume of the shape of `seg` \(5, 6, 7\); got \(5, 6, 8\)"):
        evaluate_blockwise(seg, gt)
    with pytest.raises(ValueError, match=r"evaluate_blockwise: `seg` must be integer labels .*; got float32"):
        evaluate_blockwise(floats, seg)
    with pytest.raises(ValueError, match=r"`gt` must be a volume of shape \(Z, Y, X\)"):
        evaluate_blockwise(seg, flat)
    with pytest.raises(ValueError, match=r"`block_shape` must be three integers >= 1"):
        evaluate_blockwise(seg, seg, block_shape=(4, -1, 4))
    with pytest.raises(TypeError, match=r"evaluate_blockwise: `ignore_gt` must hold integer labels"):
        evaluate_blockwise(seg, seg, ignore_gt=("a",))
