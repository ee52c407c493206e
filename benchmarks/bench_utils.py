"""Helpers for the benchmark suites (plain functions; fixtures live in conftest.py)."""

import time


def best_seconds(fn, repeat=5):
    """Best wall time of `repeat` calls (for figures computed outside pytest-benchmark)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def timed_seconds(benchmark):
    """Best time of a finished pytest-benchmark run, or None under --benchmark-disable."""
    return benchmark.stats.stats.min if benchmark.stats else None
