"""Access to the real EM volumes used by tests and benchmarks (the PYTC_DATA folder)."""

import os
from pathlib import Path

DATA_ENV = "PYTC_DATA"
V1_CONFIGS_ENV = "PYTC_V1_CONFIGS"


def in_ci():
    """Whether this runs under CI (CI=true): there, what would be a skip elsewhere is a failure."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def fail_in_ci_else_skip(message):
    """Fail the calling test under CI, skip it elsewhere, with `message`."""
    import pytest

    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


# Skips that are by design on a machine like CI's (no GPU, one host); under CI=true any other skip fails the
# run (see `unexpected_ci_skip`, called by the test and benchmark suites' conftest.py).
EXPECTED_CI_SKIPS = (
    "needs a CUDA device",
    "needs 2 CUDA devices",
    "NCCL unavailable",
    "only applies to",
    "elasticdeform, an optional peer",
)


def unexpected_ci_skip(report):
    """For a pytest test report: under CI, the reason of a skip that no `EXPECTED_CI_SKIPS` entry explains, else
    None. The suites' conftest.py turn such skips into failures, so that CI cannot be green by skipping."""
    if not (in_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return None
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return None if any(expected in reason for expected in EXPECTED_CI_SKIPS) else reason


def require_module(name, why="it"):
    """The module `name` (e.g. a peer such as 'waterz'); when it does not import, the calling test fails under CI
    and is skipped elsewhere. `why` says what needs it, for the message."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as e:
        fail_in_ci_else_skip(f"{name} does not import, and {why} needs it ({type(e).__name__}: {e})")


def data_dir():
    """The shared data folder: $PYTC_DATA, else ../shared/data beside the project root.

    The project root is the checkout pytc was imported from (editable installs) or, for an
    install in site-packages, the working directory.
    """
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    roots = (Path(__file__).resolve().parents[1], Path.cwd())
    candidates = [(root / ".." / "shared" / "data").resolve() for root in roots]
    return next((path for path in candidates if path.is_dir()), candidates[0])


data_reads = 0  # calls of require_data so far: the test suite checks that tests which read it are marked real_data


def require_data(*parts):
    """Path of a file or folder in the shared data, for tests and benchmarks.

    When it is missing, the calling test fails under CI (CI=true) and is skipped elsewhere,
    with the path and the variable to set in the message.
    """
    global data_reads
    data_reads += 1
    path = data_dir().joinpath(*parts)
    if not path.exists():
        fail_in_ci_else_skip(f"real EM data not found at {path}: set {DATA_ENV} to the shared data folder")
    return path


def read_gala(name):
    """A volume of gala_fibsem_mini, e.g. 'train-gt' or 'test-p1' (dataset 'stack')."""
    from .data import read_volume

    suffix = ".h5" if name.endswith("image") else ".lzf.h5"
    return read_volume(require_data("gala_fibsem_mini", name + suffix), "stack")


def v1_configs_dir():
    """The shared PyTorch Connectomics v1 configs: $PYTC_V1_CONFIGS, else the pytc_v1_configs folder beside the
    data folder (both live in ../shared)."""
    if os.environ.get(V1_CONFIGS_ENV):
        return Path(os.environ[V1_CONFIGS_ENV])
    return data_dir().parent / "pytc_v1_configs"


def require_v1_configs():
    """`v1_configs_dir()`; when it is missing the calling test fails under CI and is skipped elsewhere."""
    path = v1_configs_dir()
    if not path.is_dir():
        fail_in_ci_else_skip(
            f"v1 configs not found at {path}: set {V1_CONFIGS_ENV} to the shared pytc_v1_configs folder"
        )
    return path


def gala_spec(name):
    """``PATH:stack`` of a gala_fibsem_mini volume, e.g. 'train-image' or 'test-gt', as configs write volumes."""
    suffix = ".h5" if name.endswith("image") else ".lzf.h5"
    return f"{require_data('gala_fibsem_mini', name + suffix)}:stack"


def tiny_config(folder, *overrides):
    """The demo config shrunk to seconds, for tests: a 2-level U-Net on 8x32x32 samples of gala train, validated
    on gala test in one window, no augmentation, run folder `folder`/run."""
    from .config import apply_overrides, load_config

    cfg = load_config(
        "demo",
        [
            ("output", str(Path(folder) / "run")),
            ("model.filters", [4, 8]),
            ("model.isotropy", [True, True]),
            ("data.train.image", [gala_spec("train-image")]),
            ("data.train.label", [gala_spec("train-gt")]),
            ("data.val.image", [gala_spec("test-image")]),
            ("data.val.label", [gala_spec("test-gt")]),
            ("data.sample_shape", [8, 32, 32]),
            ("data.augment.extra", []),
            ("solver.minutes", 0),
            ("solver.iterations", 4),
            ("solver.warmup", 2),
            ("system.num_workers", 0),
            ("system.threads", 1),
            ("log.every", 1),
            ("log.image_every", 2),
            ("log.progress", False),
            ("checkpoint.every", 2),
            ("val.every", 0),
            ("val.window", [50, 100, 200]),
            ("val.thresholds", [0.3, 0.5]),
        ],
    )
    return apply_overrides(cfg, overrides)
