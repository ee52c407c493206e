"""PYTC_SLOWDOWN, the testing switch that makes a named kernel's wrapper run its compiled kernel N times."""

import numpy as np
import pytest

from pytc import _slowdown
from pytc.kernels import _affinity as affinity_module
from pytc.kernels import contingency_table, mutex_watershed, seg_to_affinity, watershed
from pytc.synthetic import random_segmentation


def test_slowed_repeats_the_named_kernel_only(monkeypatch):
    calls = []

    def kernel(x):
        calls.append(x)
        return len(calls)

    monkeypatch.setenv("PYTC_SLOWDOWN", "watershed=3, seg_to_affinity=2")
    assert _slowdown.slowed("watershed", kernel, "a") == 3  # the last call's result
    assert calls == ["a"] * 3
    assert _slowdown.slowed("mutex_watershed", kernel, "b") == 4
    assert _slowdown.repeats("seg_to_affinity") == 2
    monkeypatch.delenv("PYTC_SLOWDOWN")
    assert _slowdown.repeats("watershed") == 1


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("bogus=2", r"PYTC_SLOWDOWN: `kernel` must be one of .*seg_to_affinity.*; got 'bogus'"),
        ("watershed=0", r"PYTC_SLOWDOWN: `watershed` must be a whole number >= 1 \(NAME=N\); got 'watershed=0'"),
        ("watershed", r"`watershed` must be a whole number >= 1"),
        ("watershed=two", r"`watershed` must be a whole number >= 1"),
    ],
)
def test_bad_spec_names_the_variable(monkeypatch, spec, match):
    monkeypatch.setenv("PYTC_SLOWDOWN", spec)
    with pytest.raises(ValueError, match=match):
        _slowdown.repeats("watershed")


def test_seg_to_affinity_calls_its_compiled_kernel_n_times(monkeypatch):
    """The switch slows the real kernel call: the wrapper calls the compiled function N times."""
    real = affinity_module._ext
    calls = []

    class Counting:
        def __getattr__(self, name):
            return getattr(real, name)

        def seg_to_affinity(self, *args):
            calls.append(1)
            return real.seg_to_affinity(*args)

    monkeypatch.setattr(affinity_module, "_ext", Counting())
    seg = random_segmentation((8, 16, 16), n_segments=5, seed=0)
    expected = seg_to_affinity(seg)
    assert len(calls) == 1
    monkeypatch.setenv("PYTC_SLOWDOWN", "seg_to_affinity=4")
    np.testing.assert_array_equal(seg_to_affinity(seg), expected)
    assert len(calls) == 5


def test_slowed_kernels_give_the_same_results(monkeypatch, rng):
    seg = random_segmentation((16, 32, 32), n_segments=30, seed=1)
    gt = random_segmentation((16, 32, 32), n_segments=20, seed=2)
    offsets = [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (0, -4, 0), (0, 0, -4)]
    aff = np.clip(seg_to_affinity(gt, offsets) * 0.8 + rng.random((5, 16, 32, 32), dtype=np.float32) * 0.2, 0, 1)
    aff = aff.astype(np.float32)

    def outputs():
        return [
            seg_to_affinity(seg, offsets),
            watershed(aff[:3].copy()),
            mutex_watershed(aff, offsets, attractive=3),
            *contingency_table(seg, gt),
        ]

    once = outputs()
    monkeypatch.setenv("PYTC_SLOWDOWN", "seg_to_affinity=3,watershed=3,mutex_watershed=3,contingency_table=3")
    for a, b in zip(once, outputs()):
        np.testing.assert_array_equal(a, b)
