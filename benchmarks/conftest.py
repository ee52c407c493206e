import numpy as np
import pytest
from bench_utils import best_seconds

from pytc.testing import unexpected_ci_skip


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skip without an expected reason (pytc.testing.EXPECTED_CI_SKIPS) fails the test."""
    report = (yield).get_result()
    reason = unexpected_ci_skip(report)
    if reason is not None:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which allows no skip for this reason: {reason}"


@pytest.fixture(scope="session")
def copy_bandwidth():
    """Memory bandwidth in bytes/s, from the best of several 512 MiB numpy copies into a reused buffer.

    Counts one read and one write per byte copied, like the kernels' floors.
    """
    src = np.ones(512 * 2**20, dtype=np.uint8)
    dst = np.empty_like(src)
    return 2 * src.nbytes / best_seconds(lambda: np.copyto(dst, src), repeat=7)
