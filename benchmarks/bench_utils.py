"""Helpers for the benchmark suites (plain functions; fixtures live in conftest.py)."""

from pytc._timing import best_time as best_seconds  # noqa: F401  (re-exported for the suites)


def timed_seconds(benchmark):
    """Best time of a finished pytest-benchmark run, or None under --benchmark-disable."""
    return benchmark.stats.stats.min if benchmark.stats else None
