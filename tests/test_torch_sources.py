"""pytc/_torch_sources.py: one source list and one set of GPU architectures for both builds of pytc._C."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytc import _torch_ext, _torch_sources

ROOT = Path(__file__).resolve().parents[1]
source_checkout = pytest.mark.skipif(
    not (ROOT / "setup.py").exists() or not _torch_sources.sources()[0], reason="only applies to a source checkout"
)

NEW_OP = {  # what adding an op looks like: its schema and one kernel file per device, nothing else edited
    "new_op.cpp": "// schema\n",
    "cpu/new_op_kernel.cpp": "// cpu kernel\n",
    "autograd/new_op_kernel.cpp": "// backward\n",
    "cuda/new_op_kernel.cu": "// cuda kernel\n",
}


def add_files(root, files):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_lists_every_source_of_the_layout(tmp_path):
    names = (
        "module.cpp",
        "op.cpp",
        "cpu/op_kernel.cpp",
        "cuda/op_kernel.cu",
        "cpu/helpers.h",
        "cuda/helpers.cuh",
        "cuda/not_cuda.cpp",
        "notes.txt",
    )
    add_files(tmp_path, dict.fromkeys(names, ""))
    cpu, cuda = _torch_sources.sources(tmp_path)
    assert cpu == [str(tmp_path / name) for name in ("module.cpp", "op.cpp", "cpu/op_kernel.cpp")]
    assert cuda == [str(tmp_path / "cuda" / "op_kernel.cu")]
    add_files(tmp_path, NEW_OP)
    cpu_after, cuda_after = _torch_sources.sources(tmp_path)
    assert set(cpu_after) - set(cpu) == {str(tmp_path / n) for n in NEW_OP if n.endswith(".cpp")}
    assert set(cuda_after) - set(cuda) == {str(tmp_path / "cuda" / "new_op_kernel.cu")}
    assert _torch_sources.sources("relative/folder") == ([], [])  # no module.cpp: no sources there
    (tmp_path / "module.cpp").unlink()
    assert _torch_sources.sources(tmp_path) == ([], [])


@source_checkout
def test_the_just_in_time_build_compiles_a_new_file_and_keys_its_cache_to_it(tmp_path, monkeypatch):
    copy = tmp_path / "torch"
    shutil.copytree(_torch_sources.source_root(), copy)
    monkeypatch.setattr(_torch_sources, "source_root", lambda: copy)
    name, options = _torch_ext._build_options()
    cpu, _ = _torch_sources.sources(copy)
    assert options["sources"][: len(cpu)] == cpu and str(copy / "module.cpp") in cpu
    add_files(copy, {"cpu/new_op_kernel.cpp": "// cpu kernel\n"})
    new_name, new_options = _torch_ext._build_options()
    assert str(copy / "cpu" / "new_op_kernel.cpp") in new_options["sources"]
    assert new_name != name  # a new source: a build of its own
    (copy / "cpu" / "new_op_kernel.cpp").unlink()
    assert _torch_ext._build_options()[0] == name


SETUP_SOURCES = """
import json, runpy, setuptools
from torch.utils.cpp_extension import CUDA_HOME
captured = {}
setuptools.setup = lambda **kwargs: captured.update(kwargs)  # describe the build, build nothing
runpy.run_path("setup.py", run_name="__main__")
ext = next(e for e in captured["ext_modules"] if e.name == "pytc._C")
print(json.dumps({"sources": ext.sources, "cuda_home": CUDA_HOME}))
"""


def setup_py_sources(checkout):
    """The sources of pytc._C in setup.py's ahead-of-time build (PYTC_BUILD_TORCH=1), and torch's CUDA_HOME."""
    env = {**os.environ, "PYTC_BUILD_TORCH": "1"}
    result = subprocess.run(
        [sys.executable, "-c", SETUP_SOURCES], cwd=checkout, capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return found["sources"], found["cuda_home"]


@source_checkout
def test_both_builds_compile_the_same_list_and_pick_up_a_new_op(tmp_path, monkeypatch):
    checkout = tmp_path / "checkout"  # what setup.py reads: itself, the rules and csrc/
    (checkout / "pytc").mkdir(parents=True)
    shutil.copy(ROOT / "setup.py", checkout)
    shutil.copy(ROOT / "pytc" / "_torch_sources.py", checkout / "pytc")
    shutil.copytree(ROOT / "csrc", checkout / "csrc")
    monkeypatch.setattr(_torch_sources, "source_root", lambda: checkout / "csrc" / "torch")

    def just_in_time(with_cuda):
        cpu, cuda = _torch_ext.sources()
        return [str(Path(path).relative_to(checkout)) for path in cpu + (cuda if with_cuda else [])]

    ahead_of_time, cuda_home = setup_py_sources(checkout)
    assert sorted(ahead_of_time) == sorted(just_in_time(with_cuda=cuda_home is not None))
    assert "csrc/torch/module.cpp" in ahead_of_time and "csrc/torch/sync_bn.cpp" in ahead_of_time
    add_files(checkout / "csrc" / "torch", NEW_OP)
    ahead_of_time_after, _ = setup_py_sources(checkout)
    assert sorted(ahead_of_time_after) == sorted(just_in_time(with_cuda=cuda_home is not None))
    assert "csrc/torch/cpu/new_op_kernel.cpp" in set(ahead_of_time_after) - set(ahead_of_time)


@pytest.fixture
def fake_nvcc(tmp_path):
    """An nvcc that knows the given compute capabilities (as `nvcc --list-gpu-arch` prints them)."""

    def make(*archs):
        path = tmp_path / "nvcc"
        path.write_text("#!/bin/sh\n" + "".join(f"echo compute_{arch}\n" for arch in archs))
        path.chmod(0o755)
        return str(path)

    return make


@pytest.mark.skipif(os.name == "nt", reason="a shell-script nvcc")
def test_cuda_architectures_are_those_the_installed_nvcc_knows(fake_nvcc):
    cuda13 = fake_nvcc(75, 80, 86, 87, 88, 89, 90, 100, 110, 103, 120, 121)
    assert _torch_sources.torch_cuda_arch_list(cuda13) == "7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX"
    flags = _torch_sources.nvcc_gencode_flags(cuda13)
    assert flags[0] == "-gencode=arch=compute_75,code=sm_75"
    assert flags[-2:] == ["-gencode=arch=compute_120,code=sm_120", "-gencode=arch=compute_120,code=compute_120"]
    assert len(flags) == len(_torch_sources.CUDA_ARCHS) + 1
    cuda12_4 = fake_nvcc(50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90)  # no Blackwell yet: PTX of 9.0
    assert _torch_sources.torch_cuda_arch_list(cuda12_4) == "7.5;8.0;8.6;8.9;9.0+PTX"
    assert _torch_sources.nvcc_gencode_flags(cuda12_4)[-1] == "-gencode=arch=compute_90,code=compute_90"
    assert _torch_sources.supported_archs("/no/such/nvcc") == list(_torch_sources.CUDA_ARCHS)  # cannot tell: all


def test_runs_as_a_script_for_the_ci(tmp_path):
    script = Path(_torch_sources.__file__)
    result = subprocess.run([sys.executable, str(script), "--arch-list"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip().endswith("+PTX")
    result = subprocess.run([sys.executable, str(script), "--bad"], capture_output=True, text=True)
    assert result.returncode == 1 and "usage: python pytc/_torch_sources.py --nvcc-flags" in result.stderr
