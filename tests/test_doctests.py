"""The examples in pytc's docstrings run as part of the suite, module by module."""

import doctest
import importlib
import pkgutil

import pytest

import pytc


def modules_with_examples():
    names = []
    for info in pkgutil.walk_packages(pytc.__path__, "pytc."):
        if info.name.endswith("__main__") or ".demo" in info.name:  # command-line entry points
            continue
        spec = importlib.util.find_spec(info.name)
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            with open(spec.origin, encoding="utf-8") as f:
                if ">>> " in f.read():
                    names.append(info.name)
    return names


MODULES = modules_with_examples()


def test_the_examples_are_found():
    assert len(MODULES) >= 18 and "pytc.kernels._watershed" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name}: no example ran"
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (output above)"
