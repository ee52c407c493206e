"""The cost of rejecting non-probabilities: pytc's compiled range check (values outside [0, 1] and NaN, one
pass) against the NaN-only numpy check it replaced (``np.isnan(a.min())``) and against a full numpy range
check (``a.min() >= 0 and a.max() <= 1``), on gala-sized and 256^3 affinities. agglomerate and
mutex_watershed run this check; watershed checks inside its first pass over the affinities instead (two float
compares per value in place of the former NaN compare: compare test_bench_watershed across commits).

Run: pytest benchmarks/test_bench_probability_check.py
"""

import numpy as np
import pytest

from pytc.validation import check_probabilities

SHAPES = {"gala": (3, 50, 100, 200), "256^3": (3, 256, 256, 256)}
CHECKS = {
    "pytc": lambda a: check_probabilities(a, "bench", "affinities"),
    "numpy-nan-only": lambda a: np.isnan(a.min()),
    "numpy-range": lambda a: a.min() >= 0 and a.max() <= 1,
}


def _affinities(shape):
    return np.random.default_rng(0).random(shape, dtype=np.float32)


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("size", SHAPES)
def test_probability_check(benchmark, size, check):
    benchmark.group = f"probability check {size}"
    aff = _affinities(SHAPES[size])
    benchmark(CHECKS[check], aff)
