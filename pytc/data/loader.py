"""The torch DataLoader of a dataset, with workers started safely (and the check that a script can start them)."""

import ast
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def build_dataloader(
    dataset: Any,
    batch_size: int = 1,
    num_workers: int = 0,
    *,
    shuffle: bool = False,
    seed: int = 0,
    pin_memory: bool = True,
    persistent_workers: bool = True,
    start_method: str = "forkserver",
    **kwargs: Any,
) -> "torch.utils.data.DataLoader":
    """A torch DataLoader over `dataset`, with workers started safely and a seeded shuffle order.

    Training items of a `VolumeDataset` come from their index's own random stream, so samples are
    reproducible run to run and the same whatever the number of workers. Memory is pinned when a GPU is
    present. Workers start with `start_method` 'forkserver' by default: forking a process whose OpenMP or
    numba threads have run is unsafe (GNU OpenMP's fork handler terminates the child).
    """
    import torch

    if num_workers and start_method != "fork":
        _require_main_guard(num_workers)
    extra = {"multiprocessing_context": start_method, "persistent_workers": persistent_workers} if num_workers else {}
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
        pin_memory=pin_memory and torch.cuda.is_available(),
        **extra,
        **kwargs,
    )


def _require_main_guard(num_workers: int) -> None:
    """Raise when called from the top level of a script without ``if __name__ == "__main__":``.

    Workers started by 'forkserver' or 'spawn' import the main script again; unguarded, its top level would start
    workers of its own, and the DataLoader would die with "worker exited unexpectedly".
    """
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    frame = sys._getframe(2)  # the caller of build_dataloader, then outwards to the script's top level
    while frame is not None and not (frame.f_code.co_name == "<module>" and frame.f_globals["__name__"] == "__main__"):
        frame = frame.f_back
    if frame is None or path is None or not path.endswith(".py"):  # not run from a script's top level (-c, a REPL)
        return
    try:
        with open(path, encoding="utf-8") as file:
            source = file.read()
    except OSError:
        return
    if not is_main_guarded(source, frame.f_lineno):
        raise RuntimeError(
            f"build_dataloader: `num_workers`={num_workers} starts worker processes that re-run the script {path}, "
            f"and line {frame.f_lineno} runs at its top level: put the script's code under "
            f'`if __name__ == "__main__":` (or pass num_workers=0)'
        )


def is_main_guarded(source: str, line: int) -> bool:
    """Whether `line` of the script `source` is inside an ``if __name__ == "__main__":`` block (True when the
    source does not parse: nothing to say then)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return True
    for node in tree.body:
        if node.lineno <= line <= node.end_lineno:
            test = ast.unparse(node.test) if isinstance(node, ast.If) else ""
            return "__name__" in test and "__main__" in test
    return False
