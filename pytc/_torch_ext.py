"""pytc's torch extension `pytc._C` (torch.ops.pytc.*): loaded if it was built ahead of time
(``PYTC_BUILD_TORCH=1 pip install --no-build-isolation -e .``), else compiled just in time on first use
and cached by torch (``TORCH_EXTENSIONS_DIR``, default ~/.cache/torch_extensions) under a name keyed to the
sources, the build flags and the torch build, so checkouts with different sources never rebuild over each
other. When neither works, callers fall back to plain torch operations after one warning.
``PYTC_TORCH_OPS=0`` asks for that fallback; ``PYTC_TORCH_OPS=1`` makes a failed build an error (CI sets it).
"""

import functools
import hashlib
import os
import sys
import time
import warnings
from pathlib import Path

from . import _torch_sources

TROUBLESHOOTING_SECTION = "'The torch extension (pytc._C)' in TROUBLESHOOTING.md"
_status = {"state": "not loaded yet"}


def sources():
    """(cpu_sources, cuda_sources) of the extension in a source checkout (empty lists elsewhere): every file
    that pytc/_torch_sources.py lists, the same list as the ahead-of-time build in setup.py."""
    return _torch_sources.sources()


def _build_options():
    """The arguments of the just-in-time build, with its name: pytc_C_<hash of sources, flags and torch build>."""
    import torch
    from torch.utils import cpp_extension

    cpu, cuda = sources()
    if not cpu:
        raise RuntimeError(
            "the C++ sources are not installed (non-editable install): build ahead of time with "
            "PYTC_BUILD_TORCH=1 pip install --no-build-isolation ."
        )
    with_cuda = bool(cuda) and torch.cuda.is_available() and cpp_extension.CUDA_HOME is not None
    openmp = [] if os.name == "nt" else ["-fopenmp"]
    options = dict(
        sources=cpu + (cuda if with_cuda else []),
        extra_cflags=["-O3"] + openmp,
        extra_ldflags=openmp,
        extra_cuda_cflags=["-O3", "--expt-relaxed-constexpr"],
        with_cuda=with_cuda,
    )
    root = next(Path(path).parent for path in cpu if Path(path).name == _torch_sources.MODULE)
    return _build_name(options, root), options


def _build_name(options, root):
    """pytc_C_<hash> of the build flags, the torch and Python versions, the GPU architectures of a CUDA build,
    and the names (relative to `root`, csrc/torch) and bytes of the sources and headers: not of where the
    checkout is. Adding or removing a source changes the list, hence the name."""
    import torch

    files = sorted({Path(path) for path in options["sources"]} | set(root.rglob("*.h")) | set(root.rglob("*.cuh")))
    flags = {k: v for k, v in options.items() if k != "sources"}
    archs = None
    if options.get("with_cuda"):  # torch compiles for TORCH_CUDA_ARCH_LIST, else for the GPUs it sees
        archs = (
            os.environ.get("TORCH_CUDA_ARCH_LIST"),
            sorted({torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())}),
        )
    key = hashlib.sha256(repr((sorted(flags.items()), torch.__version__, sys.version_info[:2], archs)).encode())
    for path in files:
        key.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return f"pytc_C_{key.hexdigest()[:12]}"


def _build_just_in_time():
    from torch.utils import cpp_extension

    name, options = _build_options()
    build_dir = Path(cpp_extension._get_build_directory(name, verbose=False))
    built = (build_dir / f"{name}.so").exists()
    if not built:
        print(
            f"pytc: compiling the torch ops (pytc._C) for this torch and these sources, once; this usually takes "
            f"1-2 minutes (45-80 s on 2 cores{', several more with CUDA' if options['with_cuda'] else ''}). "
            f"Cached in {build_dir}. To build ahead of time instead: PYTC_BUILD_TORCH=1 pip install "
            f"--no-build-isolation -e .",
            file=sys.stderr,
            flush=True,
        )
    start = time.perf_counter()
    module = cpp_extension.load(
        name=name, build_directory=str(build_dir), verbose=os.environ.get("PYTC_VERBOSE_BUILD") == "1", **options
    )
    if not built:
        print(f"pytc: torch ops compiled in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return module


@functools.cache
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
            if os.environ.get("PYTC_TORCH_OPS") == "1":
                raise RuntimeError(
                    f"pytc: the compiled torch ops could not be built and PYTC_TORCH_OPS=1 requires "
                    f"them: {_status['state']}. See {TROUBLESHOOTING_SECTION}."
                ) from e
            warnings.warn(
                f"pytc: the compiled torch ops could not be built, so SyncBatchNorm uses torch operations "
                f"(correct, slower). Reason: {_status['state']}. See {TROUBLESHOOTING_SECTION}.",
                RuntimeWarning,
                stacklevel=2,
            )
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

    if not sources()[0]:
        return "not built: C++ sources not installed (see TROUBLESHOOTING.md)"
    name, _ = _build_options()
    cached = Path(_get_build_directory(name, verbose=False)) / f"{name}.so"
    if cached.exists():
        return f"built just in time, cached at {cached}"
    return (
        "not built yet: compiled on first use of SyncBatchNorm (python -m pytc.doctor --build-torch-ops builds it now)"
    )
