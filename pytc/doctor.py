"""Prints what is needed to diagnose an installation: `python -m pytc.doctor`.

Exits 0 when the compiled kernels load, 1 when they don't.
"""

import os
import platform
import shutil
import subprocess
import sys


def _version(module):
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"
    except Exception as e:  # a broken install is worth reporting, not crashing on
        return f"failed to import: {e}"


def _nvcc():
    path = shutil.which("nvcc")
    if path is None:
        return "not on PATH"
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return f"{path} (failed to run: {e})"
    release = [line for line in out.splitlines() if "release" in line]
    return f"{path} ({release[-1].strip() if release else 'unknown version'})"


def _torch(build_ops=False):
    try:
        import torch
    except ImportError:
        return [
            ("torch", "not installed (only needed for models and training)"),
            ("pytc._C (torch ops)", "needs torch"),
        ]
    from pytc import _torch_ext

    if build_ops:
        _torch_ext.load_ops()
    rows = [("torch", f"{torch.__version__} ({torch.__file__})"), ("pytc._C (torch ops)", _torch_ext.status())]
    rows.append(("torch CUDA", f"built with {torch.version.cuda}" if torch.version.cuda else "CPU-only build"))
    if torch.version.cuda:
        available = torch.cuda.is_available()
        devices = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if available else []
        rows.append(("CUDA devices", ", ".join(devices) if devices else "none available"))
    return rows


def shadowing_folder():
    """The folder imported as `pytc` when it is not the package (e.g. a checkout named pytc, seen from its parent
    folder: Python looks in the working folder first), else None."""
    import pytc

    if getattr(pytc, "__file__", None) is None:  # a namespace package: a folder named pytc without __init__.py
        return ", ".join(str(path) for path in pytc.__path__)
    return None


def report(build_ops=False):
    """Rows (name, value) of the diagnosis, and whether the compiled kernels loaded."""
    import numpy

    import pytc
    from pytc import _extension

    rows = [
        ("pytc", f"{pytc.__version__} ({os.path.dirname(pytc.__file__)})"),
        ("python", f"{platform.python_version()} ({sys.executable})"),
        ("platform", f"{platform.platform()} {platform.machine()}, {os.cpu_count()} CPUs"),
        ("numpy", f"{numpy.__version__} ({os.path.dirname(numpy.__file__)})"),
        ("scipy", _version("scipy")),
        ("h5py", _version("h5py")),
    ]
    ok = True
    try:
        ext = _extension.load("pytc._ext")
    except _extension.ExtensionError as e:
        ok = False
        rows.append(("pytc._ext", f"FAILED: {e}"))
    else:
        info = ext.build_info
        rows += [
            ("pytc._ext", f"loaded ({ext.__file__})"),
            ("  compiler", info["compiler"]),
            (
                "  build flags",
                info["flags"] + ("" if "-march=native" in info["flags"] else " (portable: no -march=native)"),
            ),
            ("  SIMD path", f"{ext.simd_path()} (kernels' row loops, chosen at load time for this CPU)"),
            ("  C++ standard", str(info["cplusplus"])),
            ("  pybind11", info["pybind11"]),
            ("  OpenMP", f"yes (version {info['openmp']})" if info["openmp"] else "no: kernels run on one thread"),
            ("  threads", f"{ext.max_threads()} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})"),
        ]
    rows += _torch(build_ops)
    rows.append(("nvcc", _nvcc()))
    from pytc.testing import DATA_ENV, data_dir

    folder = data_dir()
    rows.append((DATA_ENV, f"{folder} ({'found' if folder.is_dir() else 'missing'})"))
    return rows, ok


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m pytc.doctor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-torch-ops", action="store_true", help="build (or load) pytc._C now and report")
    args = parser.parse_args(argv)
    folder = shadowing_folder()
    if folder is not None:
        print(
            f"pytc: the folder {folder} is imported as `pytc` instead of the installed package: it has no "
            f"__init__.py (is it a pytc checkout?) and Python looks in the working folder {os.getcwd()} first. "
            f"Run from another folder, e.g. inside the checkout or your home folder.",
            file=sys.stderr,
        )
        return 1
    rows, ok = report(args.build_torch_ops)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    if not ok:
        print("\nThe compiled kernels did not load: see TROUBLESHOOTING.md.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
