import os
from pathlib import Path

import numpy as np
import pytest

import pytc
from pytc import testing
from pytc.testing import unexpected_ci_skip

REPOSITORY = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    """PYTC_EXPECT_INSTALLED=1 (CI's run against the wheel): the suite must test the installed pytc, not the
    checkout it sits in; stop before any test if `import pytc` found the source tree."""
    if os.environ.get("PYTC_EXPECT_INSTALLED") == "1":
        package = Path(pytc.__file__).resolve().parent
        if package.is_relative_to(REPOSITORY):
            raise pytest.UsageError(
                f"PYTC_EXPECT_INSTALLED=1 but pytc was imported from the source tree ({package}), not from the "
                f"installed package: run pytest from a folder outside the repository, as .ci/test_wheel does"
            )


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.data_reads_before = testing.data_reads


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skip without an expected reason (pytc.testing.EXPECTED_CI_SKIPS) fails the test; so does a
    test that reads the real data (PYTC_DATA) without the real_data marker, which `pytest -m real_data` selects."""
    report = (yield).get_result()
    reason = unexpected_ci_skip(report)
    if reason is not None:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which allows no skip for this reason: {reason}"
    reads = testing.data_reads > getattr(item, "data_reads_before", testing.data_reads)
    if call.when == "call" and report.passed and reads and item.get_closest_marker("real_data") is None:
        report.outcome = "failed"
        report.longrepr = (
            "this test reads the real data (PYTC_DATA): mark it (or its module) with pytest.mark.real_data"
        )
