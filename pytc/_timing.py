"""Wall-clock helper shared by the demo and the benchmarks."""

import time


def best_time(fn, repeat=5):
    """Best wall time in seconds of `repeat` calls of fn()."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
