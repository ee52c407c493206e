import json
import warnings

import numpy as np
import pytest

from pytc.augment import Compose, Flip, Grayscale
from pytc.data.dataset import TRAIN_LENGTH, VolumeDataset
from pytc.data.loader import build_dataloader
from pytc.data.sampling import widen_borders
from pytc.data.targets import affinity_mask
from pytc.testing import require_data

SHAPE = (10, 30, 40)


def coordinates_volume(shape=SHAPE):
    """A float32 volume whose value encodes the voxel's position (exact in float32)."""
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


def locate(block, shape=SHAPE):
    """The (z, y, x) start of a crop of coordinates_volume, from its first value."""
    return np.unravel_index(int(block.ravel()[0]), shape)


def test_training_crops_are_exact_crops_with_aligned_labels():
    volume = coordinates_volume()
    labels = volume.astype(np.int64)
    ds = VolumeDataset([volume], [labels], sample_shape=(4, 8, 9), seed=3)
    assert len(ds) == TRAIN_LENGTH == 2**20  # iteration-based: an epoch outlasts a run
    assert len(VolumeDataset([volume], sample_shape=(4, 8, 9), length=40)) == 40
    starts = set()
    for i in range(20):
        item = ds[i]
        assert item["image"].shape == (1, 4, 8, 9) and item["image"].dtype == np.float32
        z, y, x = locate(item["image"][0])
        np.testing.assert_array_equal(item["image"][0], volume[z : z + 4, y : y + 8, x : x + 9])
        np.testing.assert_array_equal(item["label"], labels[z : z + 4, y : y + 8, x : x + 9])
        starts.add((z, y, x))
    assert len(starts) > 15  # random positions


def test_uint8_images_are_scaled_to_unit_range():
    volume = np.full(SHAPE, 255, np.uint8)
    item = VolumeDataset(volume, sample_shape=(2, 4, 4))[0]
    assert item["image"].dtype == np.float32 and item["image"].max() == 1.0


def test_volumes_chosen_by_size():
    small, large = np.zeros((4, 8, 8), np.float32), np.ones((4, 64, 64), np.float32)
    ds = VolumeDataset([small, large], sample_shape=(4, 8, 8), length=400)
    picks = [ds[i]["image"].mean() for i in range(400)]
    assert np.mean(picks) > 0.95  # 1 crop position in the small volume, 57^2 in the large one


def test_rejection_sampling_and_instances():
    labels = np.zeros(SHAPE, np.uint32)
    labels[:, :6, :6] = 1
    labels[:, :6, 6:9] = 2
    image = coordinates_volume()
    ds = VolumeDataset(image, labels, sample_shape=(2, 8, 8), min_foreground=10, reject_p=1.0, length=30)
    assert all(np.count_nonzero(ds[i]["label"]) >= 10 for i in range(30))
    # about 1 crop position in 21 holds both ids: 500 tries miss with probability 1e-10
    ds = VolumeDataset(image, labels, sample_shape=(2, 8, 8), min_instances=2, length=30, max_tries=500)
    for i in range(10):
        label = ds[i]["label"]
        assert len(np.unique(label[label > 0])) >= 2
    ds = VolumeDataset(image, labels, sample_shape=(2, 8, 8), min_instances=3, max_tries=5)
    with pytest.warns(UserWarning, match="no crop met the rejection criteria in 5 tries"):
        ds[0]


def test_valid_masks_reject_crops():
    mask = np.zeros(SHAPE, bool)
    mask[:, :, 20:] = True
    ds = VolumeDataset(
        coordinates_volume(),
        np.ones(SHAPE, np.uint8),
        valid_masks=mask.astype(np.uint8),
        sample_shape=(2, 8, 8),
        min_valid=0.9,
    )
    for i in range(20):
        item = ds[i]
        assert item["mask"].mean() >= 0.9
        assert locate(item["image"][0])[2] >= 19


def test_reflect_padding_and_2d_samples():
    volume = coordinates_volume()
    padded = np.pad(volume, ((0, 0), (5, 5), (5, 5)), mode="reflect")
    ds = VolumeDataset(volume, sample_shape=(30, 40), pad=(0, 5, 5), length=30)
    windows = {(z, y, x): padded[z, y : y + 30, x : x + 40] for z in range(10) for y in range(11) for x in range(11)}
    found = []
    for i in range(30):
        image = ds[i]["image"]
        assert image.shape == (1, 30, 40)  # 2D sample: no z axis
        found += [key for key, window in windows.items() if np.array_equal(window, image[0])]
    assert len(found) >= 30  # every sample is a window of the reflect-padded volume
    assert any(key[1] != 5 or key[2] != 5 for key in found)  # and padding is used


def test_widen_borders():
    label = np.array([[[1, 1, 1, 2, 2, 2]]], np.uint32)
    np.testing.assert_array_equal(widen_borders(label, 1), [[[1, 1, 0, 0, 2, 2]]])
    np.testing.assert_array_equal(widen_borders(label, 0), label)


def test_test_mode_grid_covers_volume_with_last_window_inside():
    volume = coordinates_volume()
    ds = VolumeDataset(volume, mode="test", sample_shape=(4, 16, 16), stride=(4, 10, 10))
    covered = np.zeros(SHAPE, bool)
    for i in range(len(ds)):
        item = ds[i]
        _index, z, y, x = item["position"]
        np.testing.assert_array_equal(item["image"][0], volume[z : z + 4, y : y + 16, x : x + 16])
        covered[z : z + 4, y : y + 16, x : x + 16] = True
    assert covered.all()
    assert {tuple(p[1:]) for p in ds.positions} >= {(6, 14, 24)}  # last windows end at the volume's end


def test_augmentation_margins_and_output_shape():
    image = (coordinates_volume() % 251).astype(np.uint8)
    aug = Compose([Flip(), Grayscale()], output_shape=(4, 8, 12))
    ds = VolumeDataset(image, image.astype(np.uint32), sample_shape=(4, 8, 12), augment=aug)
    assert ds.read_shape == (4, 12, 12)
    item = ds[0]
    assert item["image"].shape == (1, 4, 8, 12) and item["label"].shape == (4, 8, 12)


def test_tiled_volume_dataset(tmp_path):
    volume = coordinates_volume()
    tiles = []
    for x in (0, 20):
        np.save(tmp_path / f"t{x}.npy", volume[:, :, x : x + 20])
        tiles.append({"path": f"t{x}.npy", "offset": [0, 0, x]})
    (tmp_path / "vol.json").write_text(json.dumps({"shape": list(SHAPE), "dtype": "float32", "tiles": tiles}))
    ds = VolumeDataset(str(tmp_path / "vol.json"), sample_shape=(4, 8, 30))
    item = ds[0]
    z, y, x = locate(item["image"][0])
    np.testing.assert_array_equal(item["image"][0], volume[z : z + 4, y : y + 8, x : x + 30])


@pytest.mark.real_data
def test_real_volumes_stay_aligned():
    image = str(require_data("gala_fibsem_mini", "train-image.h5"))
    gt = str(require_data("gala_fibsem_mini", "train-gt.lzf.h5"))
    ds = VolumeDataset(image, gt, sample_shape=(8, 48, 48), augment=Compose([Flip()], output_shape=(8, 48, 48)))
    for i in range(5):
        item = ds[i]
        membrane, inside = item["image"][0][item["label"] == 0], item["image"][0][item["label"] > 0]
        assert membrane.mean() < inside.mean() - 0.05  # dark membranes stay under the boundary label


def test_samples_come_from_their_index_whatever_the_workers():
    volume = coordinates_volume()

    def starts(seed, workers):
        ds = VolumeDataset(volume, sample_shape=(2, 4, 4), length=16, seed=seed)
        loader = build_dataloader(ds, batch_size=1, num_workers=workers, persistent_workers=False)
        return [locate(batch["image"][0, 0].numpy()) for batch in loader]

    first = starts(7, 2)
    assert len(set(first)) > 12  # workers do not repeat each other's crops
    assert starts(7, 0) == first == starts(7, 1)  # the same samples with any number of workers
    assert starts(8, 2) != first
    ds = VolumeDataset(volume, sample_shape=(2, 4, 4), length=16, seed=7)
    assert locate(ds[100]["image"][0]) == locate(ds[100]["image"][0])  # any index, reproducibly


def test_normalization_per_volume():
    image = np.arange(2 * 8 * 8, dtype=np.uint16).reshape(2, 8, 8)
    item = VolumeDataset(image, sample_shape=(2, 8, 8))[0]
    np.testing.assert_array_equal(item["image"][0], image.astype(np.float32) / 65535)
    item = VolumeDataset(image, sample_shape=(2, 8, 8), normalize={"mode": "meanstd"})[0]
    assert abs(item["image"].mean()) < 1e-5 and abs(item["image"].std() - 1) < 1e-3
    item = VolumeDataset(image, sample_shape=(2, 8, 8), normalize={"mode": "percentile", "low": 0, "high": 100})[0]
    assert item["image"].min() == 0 and item["image"].max() == 1
    floats = np.full(SHAPE, 7.5, np.float32)
    assert VolumeDataset(floats, sample_shape=(2, 4, 4))[0]["image"].max() == 7.5  # floats pass unscaled
    with pytest.raises(ValueError, match=r"Normalization: `mode` must be one of"):
        VolumeDataset(image, sample_shape=(2, 8, 8), normalize="zscore")


def test_path_and_dataset_strings(tmp_path):
    from pytc.data import write_volume

    volume = coordinates_volume()
    write_volume(tmp_path / "v.h5", volume, dataset="group/raw")
    item = VolumeDataset(f"{tmp_path / 'v.h5'}:group/raw", sample_shape=(4, 8, 9))[0]
    z, y, x = locate(item["image"][0])
    np.testing.assert_array_equal(item["image"][0], volume[z : z + 4, y : y + 8, x : x + 9])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sample_shape": (4, 4)}, None),
        ({"sample_shape": (0, 4, 4)}, r"`sample_shape` must be 2 or 3 ints >= 1; got \(0, 4, 4\)"),
        ({"sample_shape": (4, 4, 4), "mode": "val"}, r"`mode` must be one of \('train', 'test'\); got 'val'"),
        ({"sample_shape": (40, 4, 4)}, r"smaller than the crop \(40, 4, 4\)"),
        ({"sample_shape": (4, 4, 4), "labels": [np.zeros((1, 2, 3))]}, r"labels\[0\] has shape \(1, 2, 3\)"),
        ({"sample_shape": (4, 4, 4), "targets": ["affinity"]}, r"`targets` need `labels`"),
        ({"sample_shape": (4, 4, 4), "valid_masks": []}, r"one entry per image \(1\); got 0"),
        ({"sample_shape": (4, 4, 4), "pad": (0, -1, 0)}, r"`pad` must be 3 ints >= 0; got \(0, -1, 0\)"),
        ({"sample_shape": (4, 4, 4), "pad": (10, 0, 0)}, r"`pad` \(10, 0, 0\) must be smaller than every volume"),
    ],
)
def test_bad_arguments(kwargs, match):
    if match is None:
        VolumeDataset(coordinates_volume(), **kwargs)
        return
    with pytest.raises(ValueError, match=match):
        VolumeDataset(coordinates_volume(), **kwargs)


def test_targets_and_weights_follow_the_valid_mask():
    gt = np.zeros(SHAPE, np.uint32)
    gt[:, :, :20], gt[:, :, 20:] = 1, 2
    mask = np.ones(SHAPE, np.uint8)
    mask[:, :15] = 0
    ds = VolumeDataset(
        coordinates_volume(), gt, valid_masks=mask, sample_shape=(2, 8, 8), targets=[{"name": "affinity"}, "binary"]
    )
    for i in range(10):
        item = ds[i]
        assert item["target"].shape == (4, 2, 8, 8) and item["weight"].shape == (4, 2, 8, 8)
        z, y, x = locate(item["image"][0])
        crop = gt[z : z + 2, y : y + 8, x : x + 8]
        np.testing.assert_array_equal(item["target"][3], crop > 0)
        crop_mask = mask[z : z + 2, y : y + 8, x : x + 8]
        invalid = crop_mask == 0
        assert not item["weight"][:, invalid].any()  # weights are zero wherever the mask is
        assert item["weight"][3, ~invalid].all()
        np.testing.assert_array_equal(item["weight"][:3], affinity_mask(crop_mask))  # edges: both ends valid


SCRIPT = """import numpy as np
from pytc.data import VolumeDataset, build_dataloader

def main():
    ds = VolumeDataset(np.zeros((8, 32, 32), np.uint8), np.zeros((8, 32, 32), np.uint32), sample_shape=(4, 16, 16))
    print(tuple(next(iter(build_dataloader(ds, batch_size=2, num_workers=2)))["image"].shape))
"""


@pytest.mark.parametrize(
    "ending, works",
    [
        ("main()\n", False),  # a plain script: workers would re-run it
        ('if __name__ == "__main__":\n    main()\n', True),  # guarded
    ],
)
def test_dataloader_workers_from_a_script_need_the_main_guard(tmp_path, ending, works):
    import subprocess
    import sys

    script = tmp_path / "train_script.py"
    script.write_text(SCRIPT + ending)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    if works:
        assert result.returncode == 0 and result.stdout.strip() == "(2, 1, 4, 16, 16)", result.stderr
    else:
        assert result.returncode == 1
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("RuntimeError: build_dataloader: `num_workers`=2 starts worker processes")
        assert f"re-run the script {script}, and line 7 runs at its top level" in last
        assert 'if __name__ == "__main__":' in last and "exited unexpectedly" not in result.stderr


def test_the_main_guard_is_recognised_in_its_forms():
    from pytc.data.loader import is_main_guarded

    body = "import os\n\n{}\n    run()\nrun()\n"
    for guard in ('if __name__ == "__main__":', "if '__main__' == __name__:", "if __name__ == '__main__' and True:"):
        assert is_main_guarded(body.format(guard), 4) and not is_main_guarded(body.format(guard), 5)
    assert not is_main_guarded(body.format("if True:"), 4)
    assert not is_main_guarded("x = 1\n", 1) and is_main_guarded("def (:\n", 1)


def test_target_channels_are_those_of_the_items():
    gt = np.zeros(SHAPE, np.uint32)
    gt[:, :, :20], gt[:, :, 20:] = 1, 2
    specs = [
        {"name": "affinity", "offsets": [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (0, -3, 0)]},
        "boundary",
        {"name": "binary", "weight": "ratio"},
        "polarity",
    ]
    ds = VolumeDataset(coordinates_volume(), gt, sample_shape=(2, 8, 8), targets=specs)
    assert ds.target_channels == [("affinity", 0, 4), ("boundary", 4, 5), ("binary", 5, 6), ("polarity", 6, 9)]
    from pytc.data import build_targets

    item = ds[0]
    assert item["target"].shape[0] == ds.target_channels[-1][2]
    z, y, x = locate(item["image"][0])
    assert build_targets(gt[z : z + 2, y : y + 8, x : x + 8], specs)[2] == ds.target_channels
    assert VolumeDataset(coordinates_volume(), gt, sample_shape=(2, 8, 8)).target_channels is None
    with pytest.raises(ValueError, match=r"`nope` is not a known target"):  # specs are checked up front
        VolumeDataset(coordinates_volume(), gt, sample_shape=(2, 8, 8), targets=["nope"])


def test_2d_samples_get_2d_targets():
    gt = np.zeros(SHAPE, np.uint32)
    gt[:, :, :20], gt[:, :, 20:] = 1, 2
    ds = VolumeDataset(coordinates_volume(), gt, sample_shape=(8, 8), targets=["affinity", "binary"])
    assert ds.target_channels == [("affinity", 0, 2), ("binary", 2, 3)]  # (0, -1), (0, 0, -1): no z channel
    item = ds[0]
    assert item["image"].shape == (1, 8, 8) and item["target"].shape == item["weight"].shape == (3, 8, 8)
    z, y, x = locate(item["image"][0])
    from pytc.kernels import seg_to_affinity

    np.testing.assert_array_equal(item["target"][:2], seg_to_affinity(gt[z, y : y + 8, x : x + 8]))
    from pytc.config.schema import TaskConfig
    from pytc.data.tasks import task_layout

    assert [
        (t.target["name"], *t.channels) for t in task_layout([TaskConfig("affinity"), TaskConfig("binary")], 2)
    ] == ds.target_channels


def test_the_dataset_owns_the_shape_and_the_pipeline_crops():
    image = (coordinates_volume() % 251).astype(np.uint8)
    aug = Compose([Flip(), Grayscale()])  # no output_shape: the dataset gives its sample_shape
    ds = VolumeDataset(image, image.astype(np.uint32), sample_shape=(4, 8, 12), augment=aug)
    assert ds.read_shape == (4, 12, 12) and ds.augment.output_shape == (4, 8, 12) and aug.output_shape is None
    assert ds[0]["image"].shape == (1, 4, 8, 12)
    with pytest.raises(ValueError, match=r"`output_shape` must be this pipeline's output_shape \(4, 8, 8\)"):
        VolumeDataset(image, sample_shape=(4, 8, 12), augment=Compose([Flip()], output_shape=(4, 8, 8)))
    with pytest.raises(TypeError, match=r"`augment` must be a pipeline \(`pytc.augment.Compose`"):
        VolumeDataset(image, sample_shape=(4, 8, 12), augment=Flip())
    same = VolumeDataset(image, sample_shape=(4, 8, 12), augment=lambda sample, rng: dict(sample))  # a plain callable
    assert same.read_shape == (4, 8, 12) and same[0]["image"].shape == (1, 4, 8, 12)
    bad = VolumeDataset(image, sample_shape=(4, 8, 12), augment=lambda sample, rng: {"image": sample["image"][:, :4]})
    with pytest.raises(ValueError, match=r"`augment` must return arrays of sample_shape \(4, 8, 12\); got 'image'"):
        bad[0]


# ---------------------------------------------------------------- drawing crops around the valid voxels


def test_valid_counts_and_uniform_valid_voxels():
    from pytc.data.sampling import random_valid_voxel, valid_counts

    rng = np.random.default_rng(0)
    mask = rng.random((11, 37, 45)) > 0.97
    block = (4, 8, 16)
    counts = valid_counts(mask.astype(np.uint8), block)
    assert counts.shape == (3, 5, 3) and counts.sum() == mask.sum()
    assert counts[1, 2, 0] == mask[4:8, 16:24, 0:16].sum() and counts[2, 4, 2] == mask[8:, 32:, 32:].sum()
    draws = [random_valid_voxel(rng, mask, counts, block) for _ in range(40 * int(mask.sum()))]
    assert all(mask[v] for v in draws)
    hits = np.bincount([np.ravel_multi_index(v, mask.shape) for v in draws], minlength=mask.size)[mask.ravel()]
    assert hits.min() > 10 and hits.max() < 80  # about 40 each: uniform over the valid voxels


def test_start_around_contains_the_voxel():
    from pytc.data.sampling import start_around

    rng = np.random.default_rng(1)
    shape, read, sample = (20, 50, 60), (10, 24, 24), (6, 16, 16)
    starts = set()
    for _ in range(300):
        voxel = (8, 25, 31)
        start = start_around(rng, voxel, shape, read, sample)
        assert all(0 <= s <= n - r for s, n, r in zip(start, shape, read))
        lo = [s + (r - k) // 2 for s, r, k in zip(start, read, sample)]  # the centered sample part
        assert all(a <= v < a + k for a, v, k in zip(lo, voxel, sample))
        starts.add(start)
    assert len(starts) == 6 * 16 * 16 or len(starts) > 250  # spread over the possible starts
    # a voxel in the margin that no sample part reaches: the nearest crop
    assert start_around(rng, (0, 0, 0), shape, read, sample) == (0, 0, 0)
    assert start_around(rng, (19, 49, 59), shape, read, sample) == (10, 26, 36)


def test_crops_drawn_around_a_single_valid_voxel_with_padding():
    volume = coordinates_volume()
    mask = np.zeros(SHAPE, np.uint8)
    mask[1, 3, 37] = 1  # near the faces: the sample reaches it only through the padding
    ds = VolumeDataset(volume, volume.astype(np.int64), valid_masks=mask, sample_shape=(4, 8, 8), pad=(2, 4, 4))
    for i in range(30):
        item = ds[i]
        assert item["mask"].sum() >= 1  # the valid voxel (or its reflection) is in every crop
    with pytest.raises(ValueError, match="`valid_masks` must be nonzero somewhere"):
        VolumeDataset(volume, volume, valid_masks=np.zeros(SHAPE, np.uint8), sample_shape=(4, 8, 8))
    # a volume without valid voxels is never drawn
    ds = VolumeDataset(
        [volume, -volume], [volume, volume], valid_masks=[mask, np.zeros(SHAPE, np.uint8)], sample_shape=(4, 8, 8)
    )
    assert all(ds[i]["image"].min() >= 0 for i in range(20))


def overlaps(start, shape, other_start, other_shape):
    return all(a < b + m and b < a + n for a, n, b, m in zip(start, shape, other_start, other_shape))


def window_sums(mask, window):
    """The sum of `mask` over every window position (an integral volume)."""
    c = np.pad(mask.astype(np.int64), [(1, 0)] * 3).cumsum(0).cumsum(1).cumsum(2)
    (a, b, d), (p, q, r) = window, mask.shape
    z, y, x = (
        (slice(0, p - a + 1), slice(a, None)),
        (slice(0, q - b + 1), slice(b, None)),
        (slice(0, r - d + 1), slice(d, None)),
    )
    total = 0
    for i in range(2):
        for j in range(2):
            for k in range(2):
                total = total + (-1) ** (3 - i - j - k) * c[z[i], y[j], x[k]]
    return total


@pytest.mark.real_data
def test_training_samples_come_from_a_few_labelled_patches():
    """Labels on 5 small patches of gala train (0.8% of the voxels), 0 and masked out elsewhere, as ingested labels
    are: uniform crop positions almost never pass `min_valid`; crops drawn around valid voxels pass it in a few
    tries."""
    from pytc.testing import read_gala

    gt = read_gala("train-gt")
    patches = [(2, 10, 10), (12, 60, 150), (25, 30, 80), (34, 70, 20), (40, 5, 170)]
    size = (5, 18, 18)
    mask = np.zeros(gt.shape, np.uint8)
    for z, y, x in patches:
        mask[z : z + size[0], y : y + size[1], x : x + size[2]] = 1
    labels = np.where(mask > 0, gt, 0).astype(np.uint32)
    sample, min_valid = (4, 16, 16), 0.8
    sums = window_sums(mask, sample)
    assert sums.shape == tuple(n - k + 1 for n, k in zip(gt.shape, sample))
    assert sums.max() == np.prod(sample) and (sums >= min_valid * np.prod(sample)).mean() < 0.001
    # so 100 uniform tries fail more than 9 times in 10
    positions = coordinates_volume(gt.shape)
    ds = VolumeDataset(positions, labels, valid_masks=mask, sample_shape=sample, min_valid=min_valid, normalize="none")
    reached = set()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no crop is the fallback after max_tries failures
        items = [ds[i] for i in range(60)]
    for item in items:
        z, y, x = locate(item["image"][0], gt.shape)
        window = (slice(z, z + sample[0]), slice(y, y + sample[1]), slice(x, x + sample[2]))
        assert item["mask"].mean() >= min_valid and np.array_equal(item["mask"], mask[window] > 0)
        assert np.array_equal(item["label"], labels[window])
        reached |= {p for p, corner in enumerate(patches) if overlaps((z, y, x), sample, corner, size)}
    assert reached == set(range(5))  # every patch is sampled
