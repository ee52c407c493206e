"""Hypothesis profiles of the fuzz tests (property-based tests of every kernel against its reference).

- ``pytc-ci`` (the default): a fixed budget of ``CI_EXAMPLES`` examples per property, derandomized (the same
  examples on every run and machine), no deadline, no example database.
- ``pytc-fuzz``: chosen by setting ``PYTC_FUZZ_EXAMPLES``, e.g. ``PYTC_FUZZ_EXAMPLES=5000 pytest tests/fuzz``;
  that many examples per property, drawn at random on each run (``--hypothesis-seed=N`` replays a run).

A failing example is printed with its arrays and a ``@reproduce_failure`` blob. Examples tried per property:
``--hypothesis-show-statistics``, or ``python tests/fuzz/count_examples.py`` for a table per kernel.
``pytest -m fuzz`` selects these tests and ``-m "not fuzz"`` leaves them out.

A kernel that hangs would stall the run without a word: each test here gets ``60 s + 1 s per example``
(``PYTC_FUZZ_HANG_SECONDS`` overrides it), after which faulthandler prints every thread's stack and exits.
"""

import faulthandler
import os

import pytest
from hypothesis import HealthCheck, settings

CI_EXAMPLES = 60

_common = dict(
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("pytc-ci", max_examples=CI_EXAMPLES, derandomize=True, **_common)
if os.environ.get("PYTC_FUZZ_EXAMPLES"):
    settings.register_profile("pytc-fuzz", max_examples=int(os.environ["PYTC_FUZZ_EXAMPLES"]), **_common)
    settings.load_profile("pytc-fuzz")
else:
    settings.load_profile("pytc-ci")


@pytest.fixture(scope="session")
def _terminal_fd(pytestconfig):
    """A copy of the real stderr: pytest captures fd 2 while a test runs, and the process exits on a hang."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    if capture is None:
        fd = os.dup(2)
    else:
        with capture.global_and_fixture_disabled():
            fd = os.dup(2)
    yield fd
    os.close(fd)


@pytest.fixture(autouse=True)
def _hang_watchdog(_terminal_fd):
    seconds = float(os.environ.get("PYTC_FUZZ_HANG_SECONDS", 60 + settings.default.max_examples))
    faulthandler.dump_traceback_later(seconds, exit=True, file=_terminal_fd)
    yield
    faulthandler.cancel_dump_traceback_later()
