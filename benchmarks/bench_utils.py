"""Helpers for the benchmark suites (plain functions; fixtures live in conftest.py)."""

import os

from pytc._timing import best_time as best_seconds  # noqa: F401  (re-exported for the suites)
from pytc.testing import require_module

# PYTC_BENCH_SMOKE=1 (.ci/run sets it with --benchmark-disable): every benchmark runs once on small synthetic
# inputs, to show that it works; its figures mean nothing then. Real-data inputs keep their size.
SMOKE = os.environ.get("PYTC_BENCH_SMOKE") == "1"


def full_or_smoke(full, smoke):
    """`full` for a measurement, `smoke` under PYTC_BENCH_SMOKE=1."""
    return smoke if SMOKE else full


def require_peer(module):
    """The peer library `module`; when it does not import the benchmark fails under CI (CI=true) and is
    skipped elsewhere."""
    return require_module(module, "this benchmark")


def timed_seconds(benchmark):
    """Best time of a finished pytest-benchmark run, or None under --benchmark-disable."""
    return benchmark.stats.stats.min if benchmark.stats else None


# Runs in a fresh interpreter: loads the .npy inputs named on the command line, resets the peak
# resident set (Linux's VmHWM, which getrusage cannot reset and which sees C++ allocations that
# tracemalloc does not), runs the statement and prints the peak above the loaded inputs in MiB.
_PEAK_SCRIPT = """
import sys
import numpy as np

def status(key):  # kB, from /proc/self/status
    for line in open('/proc/self/status'):
        if line.startswith(key + ':'):
            return int(line.split()[1])

inputs = [np.load(path) for path in sys.argv[2:]]
setup, statement = sys.argv[1].split('\\n', 1)
exec(setup)
with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')  # resets the peak (VmHWM) to the current RSS
base = status('VmRSS')
exec(statement)
print((status('VmHWM') - base) / 1024)
"""


def peak_memory_mib(setup, statement, arrays, folder):
    """Peak memory (MiB above the loaded inputs) of `statement` in a fresh process.

    `arrays` are saved to `folder` (once) and loaded as the list `inputs`; `setup` (one line:
    imports) runs before the peak is reset. Skips where /proc/self/clear_refs is missing.
    """
    import os
    import subprocess
    import sys

    import numpy as np
    import pytest

    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("peak memory is measured through Linux's /proc/self/clear_refs and VmHWM")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, array in enumerate(arrays):
        path = folder / f"input{i}.npy"
        if not path.exists():
            np.save(path, array)
        paths.append(str(path))
    result = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, setup + "\n" + statement, *paths],
                            capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])
