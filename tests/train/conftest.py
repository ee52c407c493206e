import pytest

from pytc.config import apply_overrides, load_config
from pytc.testing import require_data


def gala(name):
    suffix = ".h5" if name.endswith("image") else ".lzf.h5"
    return f"{require_data('gala_fibsem_mini', name + suffix)}:stack"


def tiny_config(tmp_path, *overrides):
    """The demo config shrunk to seconds: a 2-level U-Net on 8x32x32 gala samples, no augmentation."""
    cfg = load_config("demo", [
        ("output", str(tmp_path / "run")), ("model.filters", [4, 8]), ("model.isotropy", [True, True]),
        ("data.train.image", [gala("train-image")]), ("data.train.label", [gala("train-gt")]),
        ("data.val.image", [gala("test-image")]), ("data.val.label", [gala("test-gt")]),
        ("data.sample_shape", [8, 32, 32]), ("data.augment.extra", []), ("solver.minutes", 0),
        ("solver.iterations", 4), ("solver.warmup", 2), ("system.num_workers", 0), ("system.threads", 1),
        ("log.every", 1), ("log.image_every", 2), ("log.progress", False), ("checkpoint.every", 2),
        ("val.every", 0), ("val.window", [50, 100, 200]), ("val.thresholds", [0.3, 0.5]),
    ])  # fmt: skip
    return apply_overrides(cfg, overrides)


@pytest.fixture
def tiny(tmp_path):
    return lambda *overrides: tiny_config(tmp_path, *overrides)
