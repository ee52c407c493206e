"""A short end-to-end run of every shipped config, as shipped (model, targets, losses, EM augmentations), on
real data: neurons on gala FIB-SEM; mitochondria and synaptic polarity on the Drosophila VNC ssTEM stack.

Only the volumes, the sample size (small volumes), the iterations and the validation interval are changed.
"""

import math

import numpy as np
import pytest

from pytc.augment import build_augmentations
from pytc.config import apply_overrides, load_config
from pytc.data import read_volume
from pytc.decode import connected_components
from pytc.testing import gala_spec as gala
from pytc.testing import require_data
from pytc.train import train

pytestmark = pytest.mark.real_data


def short(name, tmp_path, volume_shape, sample_shape, *overrides):
    """The shipped config `name`, for 2 iterations and a validation (one window), with padding for the
    augmentations."""
    cfg = load_config(
        name,
        [
            ("data.sample_shape", sample_shape),
            ("output", str(tmp_path / name)),
            ("solver.iterations", 2),
            ("val.every", 2),
            ("val.window", list(volume_shape)),
            ("log.progress", False),
            ("system.num_workers", 0),
            *overrides,
        ],
    )
    a = cfg.data.augment
    read = build_augmentations(sample_shape, a.preset, a.isotropic, a.skip, a.params, a.extra).input_shape()
    return apply_overrides(cfg, [("data.pad", [max(0, math.ceil((r - n) / 2)) for r, n in zip(read, volume_shape)])])


def vnc(tmp_path, kind):
    """Raw and 3D connected components of one VNC annotation, as train and validation crops in .npy files."""
    raw = read_volume(require_data("drosophila_vnc_sstem_stack1", "raw"))
    labels = connected_components(read_volume(require_data("drosophila_vnc_sstem_stack1", kind)) > 0).astype(np.uint32)
    paths = {}
    for split, (y, x) in (("train", (0, 0)), ("val", (512, 512))):
        for name, volume in (("image", raw), ("label", labels)):
            paths[split, name] = str(tmp_path / f"{kind}-{split}-{name}.npy")
            np.save(paths[split, name], volume[:, y : y + 256, x : x + 256])
    return [(f"data.{split}.{name}", [path]) for (split, name), path in paths.items()]


def test_neurons_on_gala(tmp_path):
    volumes = [
        ("data.train.image", [gala("train-image")]),
        ("data.train.label", [gala("train-gt")]),
        ("data.val.image", [gala("test-image")]),
        ("data.val.label", [gala("test-gt")]),
    ]
    cfg = short("neurons", tmp_path, (50, 100, 200), [18, 96, 96], *volumes, ("solver.batch_size", 1))
    assert cfg.model.name == "unet_residual_3d" and cfg.data.augment.preset == "em"
    _, metrics = train(cfg)
    assert 0 <= metrics["affinity/adapted_rand"] <= 1 and metrics["affinity/voi_split"] >= 0


def test_mitochondria_on_vnc(tmp_path):
    cfg = short(
        "mitochondria",
        tmp_path,
        (20, 256, 256),
        [16, 128, 128],
        *vnc(tmp_path, "mitochondria"),
        ("data.augment.isotropic", False),
        ("solver.batch_size", 1),
    )  # ssTEM is anisotropic
    assert [t.target for t in cfg.tasks] == ["binary", "boundary"] and cfg.model.block == "residual_se"
    _, metrics = train(cfg)
    assert {"binary/iou", "binary/dice", "boundary/iou", "boundary/dice"} <= set(metrics)


def test_synaptic_polarity_on_vnc(tmp_path):
    cfg = short(
        "synapse",
        tmp_path,
        (20, 256, 256),
        [18, 128, 128],
        *vnc(tmp_path, "synapses"),
        ("solver.batch_size", 1),
        ("data.min_foreground", 100),
    )
    assert cfg.tasks[0].target == "polarity" and cfg.tasks[0].weight == "ratio"
    _, metrics = train(cfg)
    assert 0 <= metrics["polarity/iou"] <= 1
