"""Build script for pytc's compiled kernels.

Metadata lives in pyproject.toml; this file only describes the extension `pytc._ext`
(pybind11, C++17, -O3, OpenMP where the compiler supports it). Environment variables:

  PYTC_OPENMP=0      build without OpenMP even if the compiler has it (single-threaded kernels)
  PYTC_NATIVE=1      add -march=native (fastest on this machine; the build is then not portable)
  PYTC_BUILD_JOBS=N  compile N source files in parallel (default: number of CPUs)
  PYTC_BUILD_TORCH=1 also build the torch extension `pytc._C` ahead of time (needs torch in the build
                     environment: pip install --no-build-isolation); otherwise pytc builds it just in
                     time on first use. Its CUDA kernels are included when torch finds CUDA, compiled
                     for the GPU architectures of pytc/_torch_sources.py (CUDA_ARCHS: 7.5 to 12.0, PTX
                     of the newest, those the installed nvcc knows) unless TORCH_CUDA_ARCH_LIST is set.
                     The torch version it was compiled against is written beside it (pytc/_C_build.py):
                     pytc loads it only under that torch (pytc/_torch_ext.py).

Every build also copies csrc/torch/ into the package (pytc/_csrc/torch/), so that an installed pytc (a wheel
included) can still build `pytc._C` just in time, e.g. for another torch than the one it was built against.

Both builds of `pytc._C`, this one and the just-in-time one (pytc/_torch_ext.py), compile the sources that
pytc/_torch_sources.py lists (csrc/torch/*.cpp, cpu/*.cpp, autograd/*.cpp and, with CUDA, cuda/*.cu): a new
op is new files there, and neither build needs editing. That module is loaded here by path, since pytc and
its dependencies need not be importable while building.
"""

import importlib.util
import os
import shutil
import sys
import tempfile
from glob import glob

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_TORCH = os.environ.get("PYTC_BUILD_TORCH") == "1"
if BUILD_TORCH:
    from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension

    build_base = BuildExtension
else:
    build_base = build_ext

OPENMP_FLAGS = {
    # compiler type -> (compile flags, link flags), tried in order
    "unix": [(["-fopenmp"], ["-fopenmp"]), (["-Xpreprocessor", "-fopenmp"], ["-lomp"])],
    "msvc": [(["/openmp"], [])],
}


def _compiles(compiler, flags, link_flags):
    """True if a small OpenMP program compiles and links with these flags."""
    source = "#include <omp.h>\nint main() { return omp_get_max_threads() > 0 ? 0 : 1; }\n"
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "check_openmp.cpp")
        with open(path, "w") as f:
            f.write(source)
        objects = compiler.compile([path], output_dir=tmp, extra_postargs=flags)
        compiler.link_executable(objects, os.path.join(tmp, "check_openmp"), extra_postargs=link_flags)
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_base):
    """Adds OpenMP when available and records the flags in the module (pytc.doctor prints them)."""

    def build_extensions(self):
        compile_flags = ["/O2"] if self.compiler.compiler_type == "msvc" else ["-O3"]
        link_flags = []
        if os.environ.get("PYTC_NATIVE") == "1" and self.compiler.compiler_type != "msvc":
            compile_flags.append("-march=native")
        openmp = "disabled by PYTC_OPENMP=0"
        if os.environ.get("PYTC_OPENMP", "1") != "0":
            openmp = "not found: building single-threaded kernels (see TROUBLESHOOTING.md, 'No OpenMP')"
            for flags, link in OPENMP_FLAGS.get(self.compiler.compiler_type, []):
                if _compiles(self.compiler, flags, link):
                    compile_flags += flags
                    link_flags += link
                    openmp = " ".join(flags)
                    break
        print(f"pytc: OpenMP: {openmp}", file=sys.stderr)
        for ext in self.extensions:
            if not isinstance(ext, Pybind11Extension):  # the torch extension has its own flags
                continue
            ext.extra_compile_args += compile_flags
            ext.extra_link_args += link_flags
            ext.define_macros.append(("PYTC_BUILD_FLAGS", '"' + " ".join(compile_flags) + '"'))
        super().build_extensions()
        if any(ext.name == "pytc._C" for ext in self.extensions):
            _write_torch_build_record(os.path.dirname(self.get_ext_fullpath("pytc._C")), CUDA_SOURCES)


def _write_torch_build_record(folder, with_cuda):
    """pytc/_C_build.py beside pytc._C: the torch it was compiled against, which pytc/_torch_ext.py checks
    before loading it (a torch extension only loads into the torch release it was built for)."""
    import torch

    cuda = torch.version.cuda if with_cuda else None
    with open(os.path.join(folder, "_C_build.py"), "w") as f:
        f.write(
            '"""Written by setup.py when it built pytc._C (PYTC_BUILD_TORCH=1); read by pytc/_torch_ext.py."""\n\n'
            f"TORCH_VERSION = {torch.__version__!r}  # the torch pytc._C was compiled against\n"
            f"CUDA = {cuda!r}  # torch.version.cuda of a build with the CUDA kernels, else None (CPU kernels only)\n"
        )
    print(f"pytc: pytc._C built for torch {torch.__version__} ({'CUDA ' + cuda if cuda else 'CPU'})", file=sys.stderr)


class BuildPy(build_py):
    """Copies the torch extension's sources into the package (pytc/_csrc/torch) for just-in-time builds in an
    installed pytc. Not in an editable install, which uses the checkout's csrc/torch directly."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        cpu, cuda = _load_torch_sources().sources(os.path.join(HERE, "csrc", "torch"))
        root = os.path.join(HERE, "csrc", "torch")
        headers = glob(os.path.join(root, "**", "*.h"), recursive=True) + glob(
            os.path.join(root, "**", "*.cuh"), recursive=True
        )
        for path in cpu + cuda + headers:
            target = os.path.join(self.build_lib, "pytc", "_csrc", "torch", os.path.relpath(path, root))
            self.mkpath(os.path.dirname(target))
            self.copy_file(path, target)


ParallelCompile("PYTC_BUILD_JOBS", default=0).install()

ext_modules = [
    Pybind11Extension(
        "pytc._ext",
        sorted(glob("csrc/numpy/*.cpp")),
        include_dirs=[os.path.join(HERE, "csrc")],  # absolute for ninja
        depends=sorted(glob("csrc/core/**/*.hpp", recursive=True) + glob("csrc/numpy/*.hpp")),
        cxx_std=17,
    ),
]


def _load_torch_sources():
    """pytc/_torch_sources.py, loaded by path: standard library only, importable before pytc's dependencies."""
    path = os.path.join(HERE, "pytc", "_torch_sources.py")
    spec = importlib.util.spec_from_file_location("_pytc_torch_sources", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CUDA_SOURCES = False  # whether pytc._C gets its CUDA kernels
if BUILD_TORCH:
    torch_sources_rules = _load_torch_sources()
    torch_sources, cuda_sources = torch_sources_rules.sources("csrc/torch")  # relative paths, as setuptools wants
    if not torch_sources:
        sys.exit("setup.py: PYTC_BUILD_TORCH=1 but csrc/torch/module.cpp is missing; run from a source checkout")
    cuda_sources = cuda_sources if CUDA_HOME else []
    CUDA_SOURCES = bool(cuda_sources)
    if cuda_sources and not os.environ.get("TORCH_CUDA_ARCH_LIST"):
        nvcc = os.path.join(CUDA_HOME, "bin", "nvcc")
        os.environ["TORCH_CUDA_ARCH_LIST"] = torch_sources_rules.torch_cuda_arch_list(nvcc)
        print(f"pytc: CUDA architectures: TORCH_CUDA_ARCH_LIST={os.environ['TORCH_CUDA_ARCH_LIST']}", file=sys.stderr)
    openmp = [] if os.name == "nt" else ["-fopenmp"]
    ext_modules.append(
        (CUDAExtension if cuda_sources else CppExtension)(
            "pytc._C",
            torch_sources + cuda_sources,
            extra_compile_args={
                "cxx": ["-O3", "-g0"] + openmp,  # -g0: no debug info (4 of 8.5 MB of a wheel)
                "nvcc": ["-O3", "--expt-relaxed-constexpr"],
            },
            extra_link_args=openmp,
        )
    )

setup(ext_modules=ext_modules, cmdclass={"build_ext": BuildExt, "build_py": BuildPy})
