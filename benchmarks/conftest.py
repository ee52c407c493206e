import numpy as np
import pytest


def best_seconds(fn, repeat=5):
    """Best wall time of `repeat` calls (for figures computed outside pytest-benchmark)."""
    import time

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


@pytest.fixture(scope="session")
def copy_bandwidth():
    """Memory bandwidth in bytes/s, from the best of several 512 MiB numpy copies into a reused buffer.

    Counts one read and one write per byte copied, like the kernels' floors.
    """
    src = np.ones(512 * 2**20, dtype=np.uint8)
    dst = np.empty_like(src)
    return 2 * src.nbytes / best_seconds(lambda: np.copyto(dst, src), repeat=7)
