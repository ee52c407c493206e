"""The compiled extension: import isolation from torch, and what users see when it is missing."""

import subprocess
import sys
import textwrap

import pytest


def run_python(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


def test_kernels_do_not_import_torch():
    result = run_python(
        """
        import sys
        import pytc.kernels
        import numpy as np
        pytc.kernels.seg_to_affinity(np.ones((3, 3), np.uint8))
        heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numba'))
        print(heavy)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


MISSING_EXTENSION = """
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "pytc._ext":
                raise {error}

    sys.meta_path.insert(0, Block())
    try:
        import pytc.kernels
    except RuntimeError as e:
        assert isinstance(e, ImportError)
        print(type(e).__name__ + ": " + str(e))
"""


@pytest.mark.parametrize(
    "error, section",
    [
        ("ModuleNotFoundError('No module named pytc._ext', name='pytc._ext')", "The compiled extension is missing"),
        ("ImportError('numpy.core.multiarray failed to import')", "NumPy ABI mismatch after an upgrade"),
        ("ImportError('undefined symbol: _ZN4pytc')", "Forcing a clean rebuild"),
    ],
)
def test_missing_or_broken_extension_explains_what_to_do(error, section):
    result = run_python(MISSING_EXTENSION.format(error=error))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ExtensionError: pytc._ext")
    assert f"'{section}' in TROUBLESHOOTING.md" in result.stdout
    assert "python -m pytc.doctor" in result.stdout


def test_troubleshooting_has_the_sections_errors_point_to():
    from pathlib import Path

    guide = Path(__file__).resolve().parents[1] / "TROUBLESHOOTING.md"
    if not guide.exists():
        pytest.skip("not running from a source checkout")
    headings = [line.lstrip("#").strip() for line in guide.read_text().splitlines() if line.startswith("#")]
    for section in (
        "The compiled extension is missing",
        "NumPy ABI mismatch after an upgrade",
        "Forcing a clean rebuild",
        "No OpenMP",
        "The torch extension (pytc._C)",
        "pytc._C was built for another torch",
    ):
        assert section in headings


def test_build_info():
    from pytc import _ext

    info = _ext.build_info
    assert info["cplusplus"] >= 201703
    assert "-O3" in info["flags"] or "/O2" in info["flags"]
    assert _ext.max_threads() >= 1
