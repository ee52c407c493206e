"""The just-in-time build of the torch ops: its cache key, what it says while compiling, and PYTC_TORCH_OPS."""

import shutil
import sys
from pathlib import Path

import pytest
import torch
from torch.utils import cpp_extension

from pytc import _torch_ext


@pytest.fixture
def copied_sources(tmp_path, monkeypatch):
    """Two copies of the torch extension's sources in different folders; `use(i)` points the build at copy i."""
    cpu, cuda = _torch_ext.sources()
    if not cpu:
        pytest.skip("not running from a source checkout")
    root = Path(cpu[0]).parent
    copies = [tmp_path / name / "torch" for name in ("a", "b")]
    for copy in copies:
        shutil.copytree(root, copy)

    def use(i):
        moved = [str(copies[i] / Path(path).relative_to(root)) for path in cpu + cuda]
        monkeypatch.setattr(_torch_ext, "sources", lambda: (moved[: len(cpu)], moved[len(cpu) :]))
        return copies[i]

    return use


def test_the_cache_is_keyed_to_the_sources_not_to_the_checkout(copied_sources):
    first = copied_sources(0)
    name, _ = _torch_ext._build_options()
    copied_sources(1)
    assert _torch_ext._build_options()[0] == name  # same sources elsewhere: the same build is shared
    source = next(first.rglob("*.cpp"))
    source.write_text(source.read_text() + "\n// changed\n")
    copied_sources(0)
    assert _torch_ext._build_options()[0] != name  # changed sources: a build of their own


def test_the_cache_is_keyed_to_the_build_flags_and_torch(copied_sources, monkeypatch):
    root = copied_sources(0)
    name, options = _torch_ext._build_options()
    assert name.startswith("pytc_C_") and name == _torch_ext._build_name(options, root)
    assert _torch_ext._build_name({**options, "extra_cflags": ["-O2"]}, root) != name
    monkeypatch.setattr(torch, "__version__", "0.0.0")
    assert _torch_ext._build_name(options, root) != name


def test_says_it_is_compiling_and_how_long_it_takes(copied_sources, monkeypatch, tmp_path, capsys):
    copied_sources(0)
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "cache"))
    calls = []
    monkeypatch.setattr(cpp_extension, "load", lambda **kwargs: calls.append(kwargs) or "module")
    assert _torch_ext._build_just_in_time() == "module"
    err = capsys.readouterr().err
    assert "compiling the torch ops" in err and "usually takes 1-2 minutes" in err and "PYTC_BUILD_TORCH=1" in err
    assert calls[0]["name"] == _torch_ext._build_options()[0]
    assert Path(calls[0]["build_directory"]).is_relative_to(tmp_path / "cache")
    built = Path(calls[0]["build_directory"]) / f"{calls[0]['name']}.so"
    built.write_bytes(b"")  # once built, loading says nothing
    _torch_ext._build_just_in_time()
    assert capsys.readouterr().err == ""


def test_a_failed_build_is_an_error_when_the_ops_are_required(monkeypatch):
    def broken():
        raise RuntimeError("Error building extension: no compiler")

    monkeypatch.setattr(_torch_ext, "_build_just_in_time", broken)
    monkeypatch.setitem(sys.modules, "pytc._C", None)  # no ahead-of-time build either
    monkeypatch.setenv("PYTC_TORCH_OPS", "1")
    _torch_ext.load_ops.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="could not be built and PYTC_TORCH_OPS=1 requires them.*no compiler"):
            _torch_ext.load_ops()
    finally:
        _torch_ext.load_ops.cache_clear()
        _torch_ext._status["state"] = "not loaded yet"


@pytest.fixture
def fresh_load(monkeypatch):
    """load_ops() from scratch, with its cache and state restored afterwards."""
    _torch_ext.load_ops.cache_clear()
    yield
    _torch_ext.load_ops.cache_clear()
    _torch_ext._status["state"] = "not loaded yet"


def test_an_ahead_of_time_build_loads_only_under_the_torch_it_was_built_for(monkeypatch):
    release = torch.__version__.split("+")[0]
    monkeypatch.setattr(_torch_ext, "prebuilt", lambda: (f"{release}+cpu", None))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _torch_ext.prebuilt_mismatch() is None  # the same release: CPU and CUDA builds share the ABI
    monkeypatch.setattr(_torch_ext, "prebuilt", lambda: ("1.0.0+cpu", None))
    kind, text = _torch_ext.prebuilt_mismatch()
    assert (
        kind == "version"
        and text == f"pytc._C was built for torch 1.0.0+cpu, but torch {torch.__version__} is installed"
    )
    monkeypatch.setattr(_torch_ext, "prebuilt", lambda: (torch.__version__, None))  # CPU kernels only...
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # ...under a torch with a GPU
    assert _torch_ext.prebuilt_mismatch()[0] == "cuda"
    monkeypatch.setattr(_torch_ext, "prebuilt", lambda: (torch.__version__, "12.8"))
    assert _torch_ext.prebuilt_mismatch() is None
    monkeypatch.setattr(_torch_ext, "prebuilt", lambda: None)  # no ahead-of-time build, or one without a record
    assert _torch_ext.prebuilt_mismatch() is None


def test_another_torch_builds_just_in_time_else_says_which_torch_to_install(monkeypatch, fresh_load):
    monkeypatch.delenv("PYTC_TORCH_OPS", raising=False)
    monkeypatch.setattr(_torch_ext, "prebuilt", lambda: ("1.0.0+cpu", None))
    built = type("Module", (), {"__file__": "/cache/pytc_C_x.so"})
    monkeypatch.setattr(_torch_ext, "_build_just_in_time", lambda: built)
    assert _torch_ext.load_ops() is torch.ops.pytc
    assert _torch_ext.status() == (
        f"loaded, built just in time (pytc._C was built for torch 1.0.0+cpu, but torch {torch.__version__} is "
        "installed) (/cache/pytc_C_x.so)"
    )

    def no_compiler():
        raise RuntimeError("Error building extension 'pytc_C': c++: not found")

    _torch_ext.load_ops.cache_clear()
    monkeypatch.setattr(_torch_ext, "_build_just_in_time", no_compiler)
    with pytest.raises(_torch_ext.TorchVersionMismatch) as error:
        _torch_ext.load_ops()  # an error, not the silent fallback: the install needs fixing
    message = str(error.value)
    assert f"pytc._C was built for torch 1.0.0+cpu, but torch {torch.__version__} is installed" in message
    assert "c++: not found" in message and "pip install torch==1.0.0" in message and "PYTC_TORCH_OPS=0" in message
    assert "'pytc._C was built for another torch' in TROUBLESHOOTING.md" in message
    _torch_ext.load_ops.cache_clear()
    monkeypatch.setenv("PYTC_TORCH_OPS", "0")  # the way out it names
    assert _torch_ext.load_ops() is None


def test_a_cpu_build_under_a_gpu_torch_falls_back_with_a_warning_when_no_cuda_build_works(monkeypatch, fresh_load):
    monkeypatch.delenv("PYTC_TORCH_OPS", raising=False)
    monkeypatch.setattr(_torch_ext, "prebuilt", lambda: (torch.__version__, None))
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)

    def no_nvcc():
        raise RuntimeError("CUDA_HOME is not set")

    monkeypatch.setattr(_torch_ext, "_build_just_in_time", no_nvcc)
    with pytest.warns(RuntimeWarning, match="without CUDA kernels, and torch sees a GPU"):
        assert _torch_ext.load_ops() is None


def test_an_installed_pytc_ships_the_sources_and_a_build_for_its_torch():
    """In an installed pytc (a wheel: PYTC_EXPECT_INSTALLED=1 in CI), the torch ops need no compiler under the torch
    the wheel was built for, and the sources for a just-in-time build under another one are inside the package."""
    import os

    import pytc

    package = Path(pytc.__file__).resolve().parent
    root = _torch_ext._torch_sources.source_root()
    if os.environ.get("PYTC_EXPECT_INSTALLED") != "1":
        assert root == package.parent / "csrc" / "torch"  # a checkout builds from its own sources
        return
    assert root == package / "_csrc" / "torch" and (root / "module.cpp").is_file()
    cpu, _ = _torch_ext.sources()
    assert {Path(path).relative_to(root).as_posix() for path in cpu} >= {"module.cpp", "sync_bn.cpp"}
    record = _torch_ext.prebuilt()
    assert record is not None and record[0].split("+")[0] == torch.__version__.split("+")[0]
    assert _torch_ext.prebuilt_mismatch() is None
    assert _torch_ext.status().startswith(("built ahead of time for torch", "loaded, built ahead of time for torch"))
