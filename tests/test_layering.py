"""Imports run one way: kernels <- data/augment/decode/metrics <- models/losses <- train/inference <- active.

Every pytc import inside the package is read with `ast` and checked against the layers below; the commands
(`pytc.cli`, `python -m pytc.<command>` modules, the demo, the doctor) sit on top and may import anything.
A new top-level module or package must be placed in a layer here, so the rule cannot be skipped by accident.
"""

import ast
from pathlib import Path

import pytc

PACKAGE = Path(pytc.__file__).parent

LAYERS = [
    {
        "_ext",
        "_C",
        "_C_build",  # written by setup.py beside an ahead-of-time pytc._C
        "_version",  # written by setuptools-scm at build time
        "_extension",
        "_torch_ext",
        "_torch_sources",
        "_timing",
        "_slowdown",
        "validation",
        "registry",
        "geometry",
        "sample",
        "kernels",
    },
    {"data", "augment", "decode", "metrics", "config", "synthetic"},
    {"models", "losses"},
    {"train", "inference", "distributed", "blockwise"},
    {"active"},
]
COMMANDS = {"__init__", "__main__", "cli", "demo", "doctor", "infer", "evaluate", "segment", "testing"}
VIEW_MAY_IMPORT = LAYERS[0] | {"data", "view"}  # the viewer reads volumes through data only
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}


def pytc_imports(path):
    """(line, top-level pytc name) for every import of pytc in the file at `path`."""
    module = ("pytc", *path.relative_to(PACKAGE).with_suffix("").parts)
    package = module[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                target = list(package[: len(package) - node.level + 1]) + (node.module or "").split(".")
            else:
                target = (node.module or "").split(".")
            targets = [target]
            if target == ["pytc"] or (target[:1] == ["pytc"] and len(target) == 2 and not target[1]):
                targets = [["pytc", alias.name] for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name.split(".") for alias in node.names]
        else:
            continue
        for target in targets:
            target = [part for part in target if part]
            if len(target) > 1 and target[0] == "pytc":
                yield node.lineno, target[1]


def violations():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        owner = parts[0]
        if owner in COMMANDS or parts[-1] == "__main__" or parts[-1].endswith(("_command", "_commands")):
            continue  # command entry points (argument parsing) may import the CLI and anything
        if owner == "view":
            allowed = VIEW_MAY_IMPORT
        elif owner not in LAYER:
            found.append(f"{path.relative_to(PACKAGE)}: `pytc.{owner}` is in no layer of tests/test_layering.py")
            continue
        else:
            allowed = {name for name, level in LAYER.items() if level <= LAYER[owner]}
        for line, target in pytc_imports(path):
            if target != owner and target not in allowed:
                found.append(f"{path.relative_to(PACKAGE)}:{line}: `pytc.{owner}` imports `pytc.{target}`")
    return found


def test_imports_run_one_way():
    assert violations() == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / "bad.py").write_text("from ..train import Trainer\nimport pytc.models\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", tmp_path)
    assert violations() == [
        "kernels/bad.py:1: `pytc.kernels` imports `pytc.train`",
        "kernels/bad.py:2: `pytc.kernels` imports `pytc.models`",
    ]
