"""pytc.active.ingest: labels of a selection (a label volume or an annotator's per-patch file) into a pool-shaped
label and mask, ids kept apart, and the printed fine-tuning command, run as printed."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

import pytc
from pytc.active import ingest as ingest_module
from pytc.active.ingest import IngestError, ingest, read_selection
from pytc.active.ingest_command import main
from pytc.testing import gala_spec, read_gala

pytestmark = pytest.mark.real_data

PATCHES = [
    ("patch_000", (2, 10, 20), (8, 24, 32)),
    ("patch_001", (20, 50, 120), (6, 30, 40)),
    ("patch_002", (40, 0, 0), (10, 16, 16)),
]


def write_selection(folder, pool, patches, checkpoint=None):
    """A selection folder as `select` writes it: manifest.json and crops.h5 (the pool's crops)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "version": 1,
        "pool": pool,
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "strategy": "random",
        "uncertainty": {"source": "tta", "samples": 4, "reduce": "variance"},
        "patch": list(patches[0][2]),
        "patches": [
            {"name": n, "start": list(s), "shape": list(k), "score": 0.0, "rank": r}
            for r, (n, s, k) in enumerate(patches)
        ],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    image = read_gala("test-image")
    with h5py.File(folder / "crops.h5", "w") as f:
        for n, s, k in patches:
            f[f"{n}/image"] = image[tuple(slice(a, a + b) for a, b in zip(s, k))]
    return folder


def region(start, shape):
    return tuple(slice(a, a + b) for a, b in zip(start, shape))


def read_output(path):
    with h5py.File(path, "r") as f:
        return f["label"][:], f["mask"][:], json.loads(f.attrs["patches"])


def same_partition(a, b):
    """a and b label the same objects (a one-to-one map between their ids, 0 to 0)."""
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(set(pairs[0])) == len(set(pairs[1])) == pairs.shape[1] and all((x == 0) == (y == 0) for x, y in pairs.T)


def test_a_label_volume_is_read_only_in_the_patches(tmp_path, monkeypatch):
    gt = read_gala("test-gt")
    sel = write_selection(tmp_path / "sel", gala_spec("test-image"), PATCHES)
    reads = []
    opened = ingest_module.open_volume

    class Recorder:
        def __init__(self, volume):
            self.volume, self.shape = volume, volume.shape

        def __getitem__(self, index):
            reads.append(index)
            return self.volume[index]

    monkeypatch.setattr(
        ingest_module, "open_volume", lambda *a: Recorder(opened(*a)) if "gt" in str(a[0]) else opened(*a)
    )
    result = ingest(sel, gala_spec("test-gt"))
    assert (
        result.output == sel / "labels.h5"
        and result.relabelled == []
        and sorted(result.patches) == [p[0] for p in PATCHES]
    )
    assert sorted(reads) == sorted(region(s, k) for _, s, k in PATCHES)  # only the patches
    label, mask, entries = read_output(sel / "labels.h5")
    assert label.dtype == np.uint32 and mask.dtype == np.uint8 and label.shape == mask.shape == gt.shape
    expected_mask = np.zeros(gt.shape, np.uint8)
    for _, s, k in PATCHES:
        expected_mask[region(s, k)] = 1
    assert np.array_equal(mask, expected_mask) and result.labelled_voxels == expected_mask.sum()
    assert np.array_equal(label, np.where(expected_mask > 0, gt, 0))  # one volume: ids kept
    assert [e["name"] for e in entries] == [p[0] for p in PATCHES]

    # the next round adds to the same file; the same volume keeps its ids
    more = [("patch_003", (30, 60, 10), (8, 20, 20))]
    sel2 = write_selection(tmp_path / "sel2", gala_spec("test-image"), more)
    ingest(sel2, gala_spec("test-gt"), sel / "labels.h5")
    label, mask, entries = read_output(sel / "labels.h5")
    expected_mask[region(*more[0][1:])] = 1
    assert np.array_equal(mask, expected_mask) and np.array_equal(label, np.where(expected_mask > 0, gt, 0))
    assert len(entries) == 4


def test_annotator_patches_get_ids_of_their_own(tmp_path):
    gt = read_gala("test-gt")
    sel = write_selection(tmp_path / "sel", gala_spec("test-image"), PATCHES)
    crops = {}
    with h5py.File(tmp_path / "annotations.h5", "w") as f:
        for n, s, k in PATCHES:  # each patch numbered from 1, as an annotator would
            ids, inverse = np.unique(gt[region(s, k)], return_inverse=True)
            crops[n] = (inverse.reshape(k) + (ids[0] != 0)).astype(np.uint16)
            f[f"{n}/label"] = crops[n]
    code = main([str(sel), str(tmp_path / "annotations.h5"), "--output", str(tmp_path / "out" / "labels.h5")])
    assert code == 0
    label, mask, _ = read_output(tmp_path / "out" / "labels.h5")
    seen = set()
    for n, s, k in PATCHES:
        part = label[region(s, k)]
        assert same_partition(part, crops[n]) and same_partition(part, gt[region(s, k)])
        ids = set(np.unique(part[part > 0]).tolist())
        assert not ids & seen  # no id shared between patches
        seen |= ids
    assert mask.sum() == sum(np.prod(k) for _, _, k in PATCHES)
    before = read_output(tmp_path / "out" / "labels.h5")
    # ingesting the same file again replaces the patches with the same ids: nothing changes
    assert main([str(sel), str(tmp_path / "annotations.h5"), "--output", str(tmp_path / "out" / "labels.h5")]) == 0
    after = read_output(tmp_path / "out" / "labels.h5")
    assert all(np.array_equal(a, b) for a, b in zip(before[:2], after[:2])) and before[2] == after[2]
    # a label volume ingested next (another source) keeps clear of the annotator's ids
    more = [("patch_003", (30, 60, 10), (8, 20, 20))]
    sel2 = write_selection(tmp_path / "sel2", gala_spec("test-image"), more)
    result = ingest(sel2, gala_spec("test-gt"), tmp_path / "out" / "labels.h5")
    label, _, _ = read_output(tmp_path / "out" / "labels.h5")
    part = label[region(*more[0][1:])]
    assert same_partition(part, gt[region(*more[0][1:])])
    new = set(np.unique(part[part > 0]).tolist())
    assert not new & seen and result.relabelled == ["patch_003"] and result.max_id == max(new)


def test_wide_ids_widen_the_label_dataset(tmp_path):
    sel = write_selection(tmp_path / "sel", gala_spec("test-image"), PATCHES[:1])
    n, s, k = PATCHES[0]
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f[f"{n}/label"] = np.full(k, 2**40, np.uint64)
    ingest(sel, str(tmp_path / "a.h5"))
    label, mask, _ = read_output(sel / "labels.h5")
    assert label.dtype == np.uint64 and np.all(label[region(s, k)] == 2**40) and mask.sum() == np.prod(k)


def _error(argv, capsys):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("pytc active ingest: error: "), err
    return err


def test_mistakes_give_one_line(tmp_path, capsys):
    pool = gala_spec("test-image")
    assert "is not a selection folder" in _error([tmp_path, gala_spec("test-gt")], capsys)
    sel = write_selection(tmp_path / "sel", pool, PATCHES)
    assert "LABELS: " in _error([sel, tmp_path / "nothing.h5"], capsys)
    crop = read_gala("test-gt")[:10]
    with h5py.File(tmp_path / "small.h5", "w") as f:
        f["stack"] = crop
    assert "has shape (10, 100, 200); a label volume must have the pool's shape (50, 100, 200)" in _error(
        [sel, f"{tmp_path / 'small.h5'}:stack"], capsys
    )
    with h5py.File(tmp_path / "float.h5", "w") as f:
        f["stack"] = np.zeros((50, 100, 200), np.float32)
    assert "labels must be integer ids; got dtype float32" in _error([sel, f"{tmp_path / 'float.h5'}:stack"], capsys)
    with h5py.File(tmp_path / "patches.h5", "w") as f:
        f["patch_000/label"] = np.zeros(PATCHES[0][2], np.uint8)
        f["patch_001/label"] = np.zeros((1, 2, 3), np.uint8)
    assert "lacks the labels of patches ['patch_002']" in _error([sel, tmp_path / "patches.h5"], capsys)
    with h5py.File(tmp_path / "patches.h5", "a") as f:
        f["patch_002/label"] = -np.ones(PATCHES[2][2], np.int32)
    assert "'patch_001/label' has shape (1, 2, 3); patch 'patch_001' has shape (6, 30, 40)" in _error(
        [sel, tmp_path / "patches.h5"], capsys
    )
    with h5py.File(tmp_path / "patches.h5", "a") as f:
        del f["patch_001/label"]
        f["patch_001/label"] = np.zeros(PATCHES[1][2], np.uint8)
    assert "ids must be >= 0; got -1" in _error([sel, tmp_path / "patches.h5"], capsys)
    with h5py.File(tmp_path / "patches.h5", "a") as f:
        f["patch_009/label"] = np.zeros((1, 1, 1), np.uint8)
    assert "groups ['patch_009'] that are not patches of" in _error([sel, tmp_path / "patches.h5"], capsys)
    bad = write_selection(tmp_path / "bad", pool, [("p", (45, 0, 0), (10, 16, 16))])
    assert "patch 'p' (start [45, 0, 0], shape [10, 16, 16]) is not inside the pool of shape [50, 100, 200]" in _error(
        [bad, gala_spec("test-gt")], capsys
    )
    manifest = json.loads((sel / "manifest.json").read_text())
    (bad / "manifest.json").write_text(json.dumps({**manifest, "version": 2}))
    assert "`version` must be 1; got 2" in _error([bad, gala_spec("test-gt")], capsys)
    (bad / "manifest.json").write_text(json.dumps({**manifest, "pool": str(tmp_path / "none.h5")}))
    assert "cannot open the pool" in _error([bad, gala_spec("test-gt")], capsys)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("label", shape=(5, 5, 5), dtype=np.uint32)
        f.create_dataset("mask", shape=(5, 5, 5), dtype=np.uint8)
    assert "is not a labels file of this pool: its 'label' has shape (5, 5, 5)" in _error(
        [sel, gala_spec("test-gt"), "--output", tmp_path / "other.h5"], capsys
    )
    assert "--min-valid must be in [0, 1]; got 2.0" in _error([sel, gala_spec("test-gt"), "--min-valid", "2"], capsys)
    with pytest.raises(IngestError, match="`patches` is empty"):
        (bad / "manifest.json").write_text(json.dumps({**manifest, "patches": []}))
        read_selection(bad)


def test_the_printed_command_fine_tunes_on_the_ingested_patches(tmp_path, capsys):
    from pytc.testing import tiny_config
    from pytc.train import train

    run, _ = train(tiny_config(tmp_path, "solver.iterations=2"))
    sel = write_selection(tmp_path / "sel", gala_spec("test-image"), PATCHES, checkpoint=run)
    assert main([str(sel), gala_spec("test-gt")]) == 0
    out, err = capsys.readouterr()
    assert "ingested 3 patches" in err and "fine-tune with:" in err
    command = shlex.split(out.strip())
    labels = sel.absolute() / "labels.h5"
    # samples of 8x32x32: the smallest patch, 10x16x16, fills at most a quarter of one; min_valid is half that
    assert command == [
        "python",
        "-m",
        "pytc.train",
        "--config",
        str(run / "config.yaml"),
        "--checkpoint",
        str(run / "checkpoint_0000002.pt"),  # without validation no best one: the last
        f"data.train.image=[{gala_spec('test-image')}]",
        f"data.train.label=[{labels}:label]",
        f"data.train.mask=[{labels}:mask]",
        "data.min_valid=0.125",
        "--output",
        f"{run}_ft",
    ]
    env = dict(os.environ, PYTHONPATH=str(Path(pytc.__file__).resolve().parents[1]))  # the pytc under test
    done = subprocess.run([sys.executable] + command[1:], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    finetuned = Path(f"{run}_ft")
    recorded = yaml.safe_load((finetuned / "config.yaml").read_text())
    assert recorded["data"]["train"]["mask"] == [f"{labels}:mask"] and recorded["data"]["min_valid"] == 0.125
    assert recorded["data"]["train"]["label"] == [f"{labels}:label"]
    assert (finetuned / "checkpoint_0000002.pt").is_file()
    metrics = [json.loads(line) for line in (finetuned / "metrics.jsonl").read_text().splitlines()]
    losses = [v for m in metrics for k, v in m.items() if k.startswith("loss/")]
    assert [m["iteration"] for m in metrics] == [1, 2] and losses and all(np.isfinite(losses))
