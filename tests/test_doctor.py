import os
import platform
import subprocess
import sys
from pathlib import Path

import pytc


def test_doctor_reports_versions_build_and_threads():
    result = subprocess.run([sys.executable, "-m", "pytc.doctor"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for key in (
        "python",
        "numpy",
        "pytc._ext",
        "compiler",
        "build flags",
        "SIMD path",
        "OpenMP",
        "threads",
        "torch",
        "nvcc",
        "PYTC_DATA",
    ):
        assert any(line.startswith((key, "  " + key)) for line in out.splitlines()), key
    assert "loaded (" in out
    assert out.splitlines()[0].split()[:2] == ["pytc", pytc.__version__]


def cpu_has_avx2():
    """Whether /proc/cpuinfo lists AVX2 (Linux), else None."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return None
    flags = next((line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")), "")
    return "avx2" in flags.split()


def test_the_simd_path_is_the_one_this_cpu_runs_and_the_build_is_portable():
    from pytc import _ext

    path = _ext.simd_path()
    flags = _ext.build_info["flags"]
    if "-march=" in flags or "-mavx2" in flags:  # PYTC_NATIVE=1: the whole build targets this CPU
        assert path.startswith(("avx2 (the whole build", "baseline"))
    elif platform.machine() == "x86_64" and sys.platform == "linux" and cpu_has_avx2() is not None:
        assert path == ("avx2" if cpu_has_avx2() else "baseline")
    else:
        assert path.startswith("baseline")
    if os.environ.get("PYTC_EXPECT_INSTALLED") == "1":  # the wheel: portable
        assert "-march=native" not in flags and path in ("avx2", "baseline")
    doctor = subprocess.run([sys.executable, "-m", "pytc.doctor"], capture_output=True, text=True, timeout=120)
    assert f"SIMD path          {path} (" in doctor.stdout


def test_version_comes_from_the_build_and_the_command_prints_it():
    import re

    assert re.fullmatch(r"\d+\.\d+\.\d+((\.dev\d+)?(\+[\w.]+)?)?", pytc.__version__), pytc.__version__
    assert pytc.__version__ != "0+unknown"  # any build or install writes pytc/_version.py
    result = subprocess.run([sys.executable, "-m", "pytc.cli", "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == f"pytc {pytc.__version__}\n"
    if os.environ.get("PYTC_EXPECT_INSTALLED") == "1":
        from importlib import metadata

        assert metadata.version("pytc") == pytc.__version__


def test_doctor_explains_a_folder_that_shadows_the_package(tmp_path):
    (tmp_path / "pytc" / "pytc").mkdir(parents=True)  # a checkout named pytc, seen from its parent folder
    (tmp_path / "pytc" / "README.md").write_text("not the package")
    result = subprocess.run(
        [sys.executable, "-m", "pytc.doctor"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    found = subprocess.run(
        [sys.executable, "-c", "import pytc; print(pytc.__file__)"], capture_output=True, text=True, cwd=tmp_path
    )
    if found.stdout.strip() != "None":  # pytc on PYTHONPATH or in site-packages: a regular package wins over
        assert result.returncode == 0, result.stderr  # the folder (a namespace portion), so nothing is shadowed
        return
    assert result.returncode == 1
    assert f"the folder {tmp_path / 'pytc'} is imported as `pytc` instead of the installed package" in result.stderr
    assert "Run from another folder" in result.stderr and "Traceback" not in result.stderr
