"""The `pytc` command: `pytc COMMAND [ARGS]` runs `python -m pytc.COMMAND [ARGS]`."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

COMMANDS = {
    "train": ("pytc.train.__main__", "train a model from a config"),
    "config": ("pytc.config.__main__", "show, document or convert configs"),
    "infer": ("pytc.infer", "predict a volume with a trained model"),
    "decode": ("pytc.decode.__main__", "turn predictions into instances"),
    "evaluate": ("pytc.evaluate", "score a segmentation against ground truth"),
    "segment": ("pytc.segment", "segment volumes of any size block by block on Dask"),
    "demo": ("pytc.demo.__main__", "train, predict and score on the embedded sample"),
    "view": ("pytc.view.__main__", "look at volumes and runs in Neuroglancer"),
    "active": ("pytc.active.__main__", "choose what to annotate next; proofread"),
    "doctor": ("pytc.doctor", "diagnose the installation"),
}


def command_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """The argument parser of `python -m pytc.<command>`: its module docstring's first paragraph as the description,
    the rest (usage examples) as the epilog, kept as written."""
    import argparse

    description, _, epilog = doc.partition("\n\n")
    return argparse.ArgumentParser(
        prog=prog, description=description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def usage() -> str:
    lines = ["usage: pytc COMMAND [ARGS]   (pytc COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name:<8} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv[0] == "--version":
        import pytc

        print(f"pytc {pytc.__version__}")
        return 0
    if argv[0] not in COMMANDS:
        print(f"pytc: unknown command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    sys.argv[0] = f"pytc {argv[0]}"
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
