import subprocess
import sys


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
        "OpenMP",
        "threads",
        "torch",
        "nvcc",
        "PYTC_DATA",
    ):
        assert any(line.startswith((key, "  " + key)) for line in out.splitlines()), key
    assert "loaded (" in out


def test_doctor_explains_a_folder_that_shadows_the_package(tmp_path):
    (tmp_path / "pytc" / "pytc").mkdir(parents=True)  # a checkout named pytc, seen from its parent folder
    (tmp_path / "pytc" / "README.md").write_text("not the package")
    result = subprocess.run(
        [sys.executable, "-m", "pytc.doctor"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    if "No module named pytc.doctor" in result.stderr:  # a non-editable install: Python stops at the folder
        return
    assert result.returncode == 1
    assert f"the folder {tmp_path / 'pytc'} is imported as `pytc` instead of the installed package" in result.stderr
    assert "Run from another folder" in result.stderr and "Traceback" not in result.stderr
