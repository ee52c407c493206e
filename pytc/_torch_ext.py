"""pytc's torch extension `pytc._C` (torch.ops.pytc.*): loaded if it was built ahead of time
(``PYTC_BUILD_TORCH=1 pip install --no-build-isolation -e .``), else compiled just in time on first use
and cached by torch (``TORCH_EXTENSIONS_DIR``, default ~/.cache/torch_extensions). When neither works, callers
fall back to plain torch operations after one warning; ``PYTC_TORCH_OPS=0`` asks for that fallback.
"""

import functools
import os
import warnings
from pathlib import Path

TROUBLESHOOTING_SECTION = "'The torch extension (pytc._C)' in TROUBLESHOOTING.md"
_status = {"state": "not loaded yet"}


def sources():
    """(cpu_sources, cuda_sources) of the extension in a source checkout (empty lists elsewhere)."""
    root = Path(__file__).resolve().parents[1] / "csrc" / "torch"
    cpu = [root / "sync_bn.cpp", root / "cpu" / "sync_bn_kernel.cpp"]
    if not all(path.exists() for path in cpu):
        return [], []
    return [str(p) for p in cpu], sorted(str(p) for p in (root / "cuda").glob("*.cu"))


def _build_just_in_time():
    import torch
    from torch.utils import cpp_extension

    cpu, cuda = sources()
    if not cpu:
        raise RuntimeError("the C++ sources are not installed (non-editable install): build ahead of time with "
                           "PYTC_BUILD_TORCH=1 pip install --no-build-isolation .")
    with_cuda = bool(cuda) and torch.cuda.is_available() and cpp_extension.CUDA_HOME is not None
    openmp = [] if os.name == "nt" else ["-fopenmp"]
    return cpp_extension.load(
        name="pytc_C",
        sources=cpu + (cuda if with_cuda else []),
        extra_cflags=["-O3"] + openmp,
        extra_ldflags=openmp,
        extra_cuda_cflags=["-O3", "--expt-relaxed-constexpr"],
        with_cuda=with_cuda,
        verbose=os.environ.get("PYTC_VERBOSE_BUILD") == "1",
    )


@functools.lru_cache(maxsize=None)
def load_ops():
    """`torch.ops.pytc` with the compiled kernels, or None (after one warning) when unavailable."""
    import torch

    if os.environ.get("PYTC_TORCH_OPS") == "0":
        _status["state"] = "disabled by PYTC_TORCH_OPS=0: torch operations are used"
        return None
    try:
        from pytc import _C  # built ahead of time

        _status["state"] = f"loaded, built ahead of time ({_C.__file__})"
    except ImportError:
        try:
            module = _build_just_in_time()
        except Exception as e:  # a missing compiler, headers, ninja...: fall back, once, loudly
            _status["state"] = f"unavailable ({type(e).__name__}: {str(e).strip().splitlines()[-1][:300]})"
            warnings.warn(f"pytc: the compiled torch ops could not be built, so SyncBatchNorm uses torch operations "
                          f"(correct, slower). Reason: {_status['state']}. See {TROUBLESHOOTING_SECTION}.",
                          RuntimeWarning, stacklevel=2)  # fmt: skip
            return None
        _status["state"] = f"loaded, built just in time ({module.__file__})"
    return torch.ops.pytc


def status():
    """A line describing the extension's state, for `python -m pytc.doctor` (builds nothing)."""
    if _status["state"] != "not loaded yet":
        return _status["state"]
    import importlib.util

    if importlib.util.find_spec("pytc._C") is not None:
        return "built ahead of time (pytc._C), loads on first use"
    from torch.utils.cpp_extension import _get_build_directory

    cached = Path(_get_build_directory("pytc_C", verbose=False)) / "pytc_C.so"
    if cached.exists():
        return f"built just in time, cached at {cached}"
    if not sources()[0]:
        return "not built: C++ sources not installed (see TROUBLESHOOTING.md)"
    return "not built yet: compiled on first use of SyncBatchNorm (python -m pytc.doctor --build-torch-ops builds it now)"
