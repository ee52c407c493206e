"""Checkpoint files: written atomically, found in a run folder, and turned back into a model.

A checkpoint is a dict saved with `torch.save` that holds only tensors and plain Python values (so it loads
with ``weights_only=True``): 'model' (state dict), 'ema' (state dict or None), 'optimizer', 'scheduler',
'scaler', 'iteration', 'rng' and 'config' (the resolved config as a dict), plus 'metric' when validated.
"""

import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..validation import check_choice

_NAME = re.compile(r"^checkpoint_(\d+)\.pt$")
BEST = "checkpoint_best.pt"


def checkpoint_name(iteration: int) -> str:
    return f"checkpoint_{iteration:07d}.pt"


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Writes `state` to `path` atomically: a temporary file in the same folder, flushed to disk (fsync),
    then renamed over `path`. A process killed at any point leaves either the old file or the new one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    folder = os.open(path.parent, os.O_RDONLY)  # make the rename itself durable
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def list_checkpoints(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """[(iteration, path)] of the periodic checkpoints in a run folder, oldest first."""
    found = []
    for path in Path(run_dir).glob("checkpoint_*.pt"):
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def resolve_checkpoint(run_or_file: str | os.PathLike, which: str = "best") -> Path:
    """The checkpoint file for a file path, or for a run folder: its best checkpoint (`which='best'`,
    falling back to the last one) or its last (`which='last'`)."""
    check_choice(which, "resolve_checkpoint", "which", ("best", "last"))
    path = Path(run_or_file)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoint: {path} is neither a checkpoint file nor a run folder")
    if which == "best" and (path / BEST).is_file():
        return path / BEST
    found = list_checkpoints(path)
    if not found:
        raise FileNotFoundError(f"checkpoint: the run folder {path} holds no checkpoint_*.pt file")
    return found[-1][1]


def load_checkpoint(run_or_file: str | os.PathLike, which: str = "best", map_location: Any = "cpu") -> dict[str, Any]:
    """The checkpoint dict of a file or run folder (see `resolve_checkpoint`)."""
    path = resolve_checkpoint(run_or_file, which)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise RuntimeError(f"checkpoint: cannot read {path}: {e}") from e


def load_model(
    run_or_file: str | os.PathLike, which: str = "best", weights: str = "auto", device: str | torch.device = "cpu"
) -> tuple[nn.Module, Any]:
    """(model, config) rebuilt from a checkpoint, in eval mode.

    `weights`: 'model', 'ema' (the moving average of the weights), or 'auto' (ema when the run kept one).
    """
    from ..config import from_dict
    from ..config.schema import Config
    from .zoo import model_from_config

    check_choice(weights, "load_model", "weights", ("auto", "model", "ema"))
    state = load_checkpoint(run_or_file, which)
    cfg = from_dict(Config, state["config"])
    model = model_from_config(cfg)
    use_ema = weights == "ema" or (weights == "auto" and state.get("ema") is not None)
    if use_ema and state.get("ema") is None:
        raise ValueError(f"load_model: {run_or_file} holds no EMA weights (solver.ema was 0)")
    model.load_state_dict(state["ema"] if use_ema else state["model"])
    return model.to(device).eval(), cfg
