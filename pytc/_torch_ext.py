"""pytc's torch extension `pytc._C` (torch.ops.pytc.*): loaded if it was built ahead of time
(``PYTC_BUILD_TORCH=1 pip install --no-build-isolation -e .``, and in pytc's wheels) for the installed torch,
else compiled just in time on first use and cached by torch (``TORCH_EXTENSIONS_DIR``, default
~/.cache/torch_extensions) under a name keyed to the sources, the build flags and the torch build, so checkouts
with different sources never rebuild over each other. The sources come from the checkout (csrc/torch) or, in an
installed pytc, from the copy inside the package (pytc/_csrc/torch).

An ahead-of-time build records the torch it was compiled against (pytc/_C_build.py). Under another torch
release it is not loaded: pytc builds just in time instead, and when that fails too (no compiler), raises
`TorchVersionMismatch` naming both versions. A CPU-only build under a torch that sees a GPU is rebuilt just in
time with the CUDA kernels where possible. When no build works, callers fall back to plain torch operations after
one warning. ``PYTC_TORCH_OPS=0`` asks for that fallback; ``PYTC_TORCH_OPS=1`` makes a failed build an error
(CI sets it).
"""

import functools
import hashlib
import importlib
import os
import sys
import time
import warnings
from pathlib import Path

from . import _torch_sources

TROUBLESHOOTING_SECTION = "'The torch extension (pytc._C)' in TROUBLESHOOTING.md"
MISMATCH_SECTION = "'pytc._C was built for another torch' in TROUBLESHOOTING.md"


class TorchVersionMismatch(RuntimeError):
    """pytc._C was built ahead of time for another torch release, and the just-in-time build failed too."""


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
            f"the C++ sources are not installed (neither csrc/torch in a checkout nor pytc/{_torch_sources.PACKAGED}):"
            " build ahead of time with PYTC_BUILD_TORCH=1 pip install --no-build-isolation ."
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


def _release(version):
    """ "2.13.0" of "2.13.0+cpu": builds of one torch release for CPU and for CUDA share their C++ ABI."""
    return version.split("+")[0]


def prebuilt():
    """The torch recorded by the ahead-of-time build, as (TORCH_VERSION, CUDA), or None when there is no
    pytc._C or no record (a build from before the record existed: loaded without a check)."""
    import importlib.util

    if importlib.util.find_spec("pytc._C") is None:
        return None
    try:
        from pytc import _C_build
    except ImportError:
        return None
    return _C_build.TORCH_VERSION, _C_build.CUDA


def prebuilt_mismatch():
    """Why the ahead-of-time pytc._C must not be loaded under the installed torch, or None when it may be:
    ("version", text) for another torch release, ("cuda", text) for a CPU-only build under a torch with a GPU."""
    import torch

    record = prebuilt()
    if record is None:
        return None
    version, cuda = record
    if _release(version) != _release(torch.__version__):
        return "version", f"pytc._C was built for torch {version}, but torch {torch.__version__} is installed"
    if cuda is None and torch.version.cuda is not None and torch.cuda.is_available():
        return "cuda", f"pytc._C was built for torch {version} without CUDA kernels, and torch sees a GPU"
    return None


def _mismatch_error(reason, error):
    import torch

    version, _ = prebuilt()
    detail = (str(error).strip().splitlines() or [""])[-1][:300]
    return TorchVersionMismatch(
        f"pytc: {reason}, and building the ops for this torch failed ({type(error).__name__}: {detail}). "
        f"Either install the torch "
        f"pytc was built for (pip install torch=={_release(version)}, choosing its CPU or CUDA build as README's "
        f"'Choosing the torch build' says), or install a C++ compiler and ninja so that pytc builds its ops for "
        f"torch {torch.__version__} on first use, or install pytc from source against this torch "
        f"(PYTC_BUILD_TORCH=1 pip install --no-build-isolation .). PYTC_TORCH_OPS=0 runs SyncBatchNorm on torch "
        f"operations instead (slower). See {MISMATCH_SECTION}."
    )


@functools.cache
def load_ops():
    """`torch.ops.pytc` with the compiled kernels, or None (after one warning) when unavailable.

    Raises TorchVersionMismatch when pytc._C was built for another torch release and no just-in-time build works.
    """
    import torch

    if os.environ.get("PYTC_TORCH_OPS") == "0":
        _status["state"] = "disabled by PYTC_TORCH_OPS=0: torch operations are used"
        return None
    mismatch = prebuilt_mismatch()
    try:
        if mismatch is not None:
            raise ImportError(mismatch[1])
        _C = importlib.import_module("pytc._C")  # built ahead of time; honours sys.modules["pytc._C"] = None

        record = prebuilt()
        built_for = f" for torch {record[0]}" if record else ""
        _status["state"] = f"loaded, built ahead of time{built_for} ({_C.__file__})"
    except ImportError:
        try:
            module = _build_just_in_time()
        except Exception as e:  # a missing compiler, headers, ninja...: fall back, once, loudly
            _status["state"] = f"unavailable ({type(e).__name__}: {str(e).strip().splitlines()[-1][:300]})"
            if mismatch is not None and mismatch[0] == "version":
                _status["state"] = f"unavailable: {mismatch[1]} and the just-in-time build failed"
                raise _mismatch_error(mismatch[1], e) from e
            if mismatch is not None:
                _status["state"] = f"unavailable: {mismatch[1]} and the just-in-time build failed ({e})"[:400]
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
        why = f" ({mismatch[1]})" if mismatch is not None else ""
        _status["state"] = f"loaded, built just in time{why} ({module.__file__})"
    return torch.ops.pytc


def status():
    """A line describing the extension's state, for `python -m pytc.doctor` (builds nothing)."""
    if _status["state"] != "not loaded yet":
        return _status["state"]
    import importlib.util

    mismatch = prebuilt_mismatch()
    if importlib.util.find_spec("pytc._C") is not None and mismatch is None:
        record = prebuilt()
        built_for = f" for torch {record[0]}, the installed one" if record else ""
        return f"built ahead of time{built_for} (pytc._C), loads on first use"
    from torch.utils.cpp_extension import _get_build_directory

    prefix = f"{mismatch[1]}: " if mismatch is not None else ""
    if not sources()[0]:
        return prefix + "not built: C++ sources not installed (see TROUBLESHOOTING.md)"
    name, _ = _build_options()
    cached = Path(_get_build_directory(name, verbose=False)) / f"{name}.so"
    if cached.exists():
        return prefix + f"built just in time, cached at {cached}"
    return prefix + (
        "not built yet: compiled on first use of SyncBatchNorm (python -m pytc.doctor --build-torch-ops builds it now)"
    )
