"""What the torch extension `pytc._C` is built from, in one place for both of its builds.

The ahead-of-time build (setup.py, ``PYTC_BUILD_TORCH=1``) and the just-in-time build (pytc._torch_ext) both
take their source list and the CUDA architectures from here, and ``.ci/nvcc_check`` takes its ``-gencode``
flags from here too. Standard library only: setup.py loads this file by path, before pytc's dependencies are
installed, and the CI script runs it as a script (``python pytc/_torch_sources.py --nvcc-flags``).

The layout of ``csrc/torch/`` (as torchvision's ``csrc/ops``): ``module.cpp`` is the Python module and
declares the `pytc` op library once; each op has ``<op>.cpp`` with its schemas (``TORCH_LIBRARY_FRAGMENT``)
and one file per device, ``cpu/<op>_kernel.cpp`` and ``cuda/<op>_kernel.cu`` (``autograd/<op>_kernel.cpp``
where an op has its own backward), each registering itself with ``TORCH_LIBRARY_IMPL``. Adding an op or a
device is adding files: the patterns below pick them up.
"""

import re
import subprocess
import sys
from pathlib import Path

CPU_PATTERNS = ("*.cpp", "cpu/*.cpp", "autograd/*.cpp")  # relative to csrc/torch; compiled by the C++ compiler
CUDA_PATTERNS = ("cuda/*.cu",)  # compiled by nvcc, only in builds with CUDA
MODULE = "module.cpp"  # the file whose presence marks a source checkout

# GPU architectures of the ahead-of-time CUDA build (torch's TORCH_CUDA_ARCH_LIST notation): machine code for
# each, plus PTX of the newest one kept so that newer GPUs run it too (compiled by the driver on first use).
# Turing (7.5) to Blackwell (12.0); CUDA 13 dropped everything older than 7.5. Architectures the installed
# nvcc does not know are left out (CUDA 12 before 12.8 has no 10.0 or 12.0).
CUDA_ARCHS = ("7.5", "8.0", "8.6", "8.9", "9.0", "10.0", "12.0")


PACKAGED = "_csrc/torch"  # where an installed pytc (wheel or `pip install .`) keeps a copy (setup.py, BuildPy)


def source_root():
    """csrc/torch of the checkout this file belongs to (a source checkout or an editable install), else the copy
    inside an installed package (pytc/_csrc/torch). Neither may exist (then `sources()` is empty)."""
    package = Path(__file__).resolve().parent
    checkout = package.parent / "csrc" / "torch"
    return checkout if (checkout / MODULE).is_file() else package / PACKAGED


def sources(root=None):
    """(cpu_sources, cuda_sources) under `root` (default: `source_root()`), as lists of str paths.

    Paths keep the form of `root` (setup.py passes the relative "csrc/torch"). Both lists are empty when
    `root` has no ``module.cpp``, i.e. the C++ sources are not there.
    """
    root = source_root() if root is None else Path(root)
    if not (root / MODULE).is_file():
        return [], []

    def find(patterns):  # in the order of the patterns (csrc/torch's own files first), sorted within each
        return [str(path) for pattern in patterns for path in sorted(root.glob(pattern)) if path.is_file()]

    return find(CPU_PATTERNS), find(CUDA_PATTERNS)


def supported_archs(nvcc="nvcc"):
    """The `CUDA_ARCHS` that `nvcc` can compile (`nvcc --list-gpu-arch`); all of them if it cannot tell."""
    try:
        listed = subprocess.run([nvcc, "--list-gpu-arch"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return list(CUDA_ARCHS)
    known = {f"{m[:-1]}.{m[-1]}" for m in re.findall(r"compute_(\d+)", listed)}
    return [arch for arch in CUDA_ARCHS if arch in known] if known else list(CUDA_ARCHS)


def torch_cuda_arch_list(nvcc="nvcc"):
    """`CUDA_ARCHS` for torch's TORCH_CUDA_ARCH_LIST, e.g. "7.5;8.0;...;12.0+PTX"."""
    archs = supported_archs(nvcc)
    return ";".join(archs[:-1] + [archs[-1] + "+PTX"])


def nvcc_gencode_flags(nvcc="nvcc"):
    """The nvcc flags of `torch_cuda_arch_list`: one -gencode per machine code, one for the PTX."""
    archs = [arch.replace(".", "") for arch in supported_archs(nvcc)]
    flags = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in archs]
    return flags + [f"-gencode=arch=compute_{archs[-1]},code=compute_{archs[-1]}"]


if __name__ == "__main__":  # for shell scripts: --nvcc-flags, --arch-list or --sources
    option = sys.argv[1] if len(sys.argv) > 1 else ""
    if option == "--nvcc-flags":
        print(" ".join(nvcc_gencode_flags()))
    elif option == "--arch-list":
        print(torch_cuda_arch_list())
    elif option == "--sources":
        cpu, cuda = sources()
        print("\n".join(cpu + cuda))
    else:
        sys.exit("usage: python pytc/_torch_sources.py --nvcc-flags | --arch-list | --sources")
