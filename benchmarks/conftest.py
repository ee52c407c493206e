import os

import numpy as np
import pytest
from bench_utils import best_seconds

from pytc.testing import unexpected_ci_skip


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "untracked(reason): the benchmark's figure is not its time; benchmarks/track.py never fails on it "
        "and PYTC_BENCH_ROUNDS leaves its rounds alone",
    )


def pytest_benchmark_update_machine_info(config, machine_info):
    """Threads by default of pytc's kernels, and of numba and torch where the run imported them."""
    import sys

    from pytc.kernels import max_threads

    threads = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "pytc": max_threads()}
    if "numba" in sys.modules:
        threads["numba"] = sys.modules["numba"].config.NUMBA_NUM_THREADS
    if "torch" in sys.modules:
        threads["torch"] = sys.modules["torch"].get_num_threads()
    machine_info["pytc_threads"] = threads


@pytest.fixture
def benchmark(benchmark, request):
    """pytest-benchmark's fixture. Under PYTC_BENCH_ROUNDS=N (benchmarks/track.py sets it) every pedantic
    timing runs at least N rounds, so that each median has N samples; an `untracked` benchmark keeps its
    rounds and says so in extra_info."""
    marker = request.node.get_closest_marker("untracked")
    if marker is not None:
        benchmark.extra_info["untracked"] = marker.args[0] if marker.args else True
        return benchmark
    floor = int(os.environ.get("PYTC_BENCH_ROUNDS") or 0)
    if floor > 1:
        pedantic = benchmark.pedantic

        def at_least_floor(*args, rounds=1, **kwargs):
            return pedantic(*args, rounds=max(rounds, floor), **kwargs)

        benchmark.pedantic = at_least_floor
    return benchmark


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
