"""What keeps CI from being green by accident: skips that fail under CI=true, and the CUDA compile check."""

import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytc.testing import require_module, unexpected_ci_skip

ROOT = Path(__file__).resolve().parents[1]


def skipped(reason):
    return SimpleNamespace(skipped=True, longrepr=("file.py", 1, f"Skipped: {reason}"))


def test_only_expected_skips_pass_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert unexpected_ci_skip(skipped("the peer waterz does not import")) == "Skipped: the peer waterz does not import"
    assert unexpected_ci_skip(skipped("needs a CUDA device")) is None
    assert unexpected_ci_skip(SimpleNamespace(skipped=False, longrepr=None)) is None
    monkeypatch.setenv("CI", "false")
    assert unexpected_ci_skip(skipped("the peer waterz does not import")) is None


def test_a_missing_module_fails_under_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no_such_peer does not import, and the benchmark needs it"):
        require_module("no_such_peer", "the benchmark")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require_module("no_such_peer", "the benchmark")
    assert require_module("numpy").__name__ == "numpy"


@pytest.mark.skipif(not (ROOT / ".ci" / "nvcc_check").exists(), reason="only applies to a source checkout")
def test_the_cuda_compile_check_needs_nvcc_under_ci(tmp_path):
    bin_dir = tmp_path / "bin"  # a PATH with bash and the tools the script uses, but no nvcc
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "find", "python"):
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    env = {**os.environ, "PATH": str(bin_dir), "CI": "true"}
    result = subprocess.run(["bash", str(ROOT / ".ci" / "nvcc_check")], capture_output=True, text=True, env=env)
    assert result.returncode == 1 and "nvcc not found, but csrc/ has CUDA sources" in result.stderr
    env["CI"] = "false"
    result = subprocess.run(["bash", str(ROOT / ".ci" / "nvcc_check")], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and "skipping the CUDA compile check" in result.stderr
