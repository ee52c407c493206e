"""PYTC_SLOWDOWN, a testing switch: named compiled kernels do their work several times per call.

``PYTC_SLOWDOWN="seg_to_affinity=4"`` makes every call of `pytc.kernels.seg_to_affinity` run its compiled
kernel 4 times (same inputs, same result), so the call is about 4 times slower. It exists to check that
benchmarks/track.py catches a slower kernel without editing code; never set it otherwise. Comma-separate
several kernels: ``"seg_to_affinity=4,watershed=2"``. Unset or empty: every kernel runs once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from .validation import fail

VARIABLE = "PYTC_SLOWDOWN"
KERNELS = ("seg_to_affinity", "watershed", "mutex_watershed", "contingency_table")


@lru_cache(maxsize=8)
def _parse(spec: str) -> dict[str, int]:
    repeats = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, count = item.partition("=")
        name = name.strip()
        if name not in KERNELS:
            raise fail(VARIABLE, "kernel", f"one of {KERNELS}", repr(name))
        if not count.strip().isdigit() or int(count) < 1:
            raise fail(VARIABLE, name, "a whole number >= 1 (NAME=N)", repr(item))
        repeats[name] = int(count)
    return repeats


def repeats(kernel: str) -> int:
    """How many times `kernel` runs per call: PYTC_SLOWDOWN's count for it, else 1."""
    return _parse(os.environ.get(VARIABLE, "")).get(kernel, 1)


def slowed(kernel: str, call: Callable[..., Any], *args: Any) -> Any:
    """``call(*args)``, repeated as PYTC_SLOWDOWN asks for `kernel`; the last call's result."""
    result = call(*args)
    for _ in range(repeats(kernel) - 1):
        result = call(*args)
    return result
