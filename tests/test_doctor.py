import subprocess
import sys


def test_doctor_reports_versions_build_and_threads():
    result = subprocess.run([sys.executable, "-m", "pytc.doctor"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for key in ("python", "numpy", "pytc._ext", "compiler", "build flags", "OpenMP", "threads", "torch", "nvcc",
                "PYTC_DATA"):  # fmt: skip
        assert any(line.startswith(key) or line.startswith("  " + key) for line in out.splitlines()), key
    assert "loaded (" in out
