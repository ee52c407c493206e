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
