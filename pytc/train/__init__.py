"""Training: `python -m pytc.train --config CONFIG [--num-gpu N] [--num-proc N] [KEY=VALUE ...]`.

`train(cfg)` checks the config, prepares the run folder and runs the `Trainer` in one or several processes.
"""

import os
from pathlib import Path

from ..config import Config, ConfigError
from ..distributed import launch, under_torchrun
from .run import resolve_volumes, write_run_files
from .trainer import Trainer, check_batch, train_dataset

__all__ = ["Trainer", "train"]


def _processes(cfg):
    if under_torchrun():
        return int(os.environ["WORLD_SIZE"])
    return cfg.system.num_gpu or cfg.system.num_proc


def _check(cfg, world, resume, run_dir):
    """Everything a person can fix, found before any process starts (ConfigError, one line each)."""
    import torch

    from ..data.tasks import task_layout
    from ..models import model_from_config

    if cfg.system.num_gpu > 0 and torch.cuda.device_count() < (1 if under_torchrun() else cfg.system.num_gpu):
        have = torch.cuda.device_count()
        raise ConfigError(
            f"--num-gpu {cfg.system.num_gpu}: this machine has {have} usable GPU{'s' * (have != 1)} "
            f"(torch {torch.__version__}, CUDA {torch.version.cuda or 'not built in'}); use "
            f"--num-gpu {have} or train on the CPU with --num-gpu 0"
        )
    check_batch(cfg, world)
    resolve_volumes(cfg, need_val=cfg.val.every > 0)
    try:
        layout = task_layout(cfg.tasks, len(cfg.data.sample_shape))
        model = model_from_config(cfg)
    except ValueError as e:
        raise ConfigError(f"config: {e}") from None
    if cfg.val.every and any(t.target["name"] == "affinity" for t in layout):
        import numpy as np

        from ..kernels import agglomerate

        try:
            agglomerate(np.ones((3, 1, 1, 2), np.float32), [0.5], scoring=cfg.val.scoring)
        except ValueError as e:
            raise ConfigError(f"config: `val.scoring`: {e}") from None
    try:
        train_dataset(cfg, layout)  # volumes, masks, sample and crop shapes, padding, augmentations
    except (ValueError, KeyError, OSError) as e:
        raise ConfigError(f"data: {e.args[0] if isinstance(e, KeyError) else e}") from None
    minimum = tuple(model.min_size())
    for key, shape in (("data.sample_shape", cfg.data.sample_shape), ("val.window", cfg.val.window)):
        if shape is not None and (len(shape) != len(minimum) or any(s < m for s, m in zip(shape, minimum))):
            raise ConfigError(
                f"config: `{key}` {list(shape)} is smaller than the minimum input of {cfg.model.name}, "
                f"{list(minimum)}; use at least that"
            )
    checkpoints = sorted(run_dir.glob("checkpoint_*.pt")) if run_dir.is_dir() else []
    if resume and not checkpoints:
        raise ConfigError(f"--resume: the run folder {run_dir} holds no checkpoint; start it without --resume")
    if not resume and checkpoints:
        raise ConfigError(
            f"the run folder {run_dir} already holds a run: continue it with --resume, or choose another with --output"
        )


def _process(rank, world, device, threads, cfg, run_dir, resume, init_weights):
    metrics = Trainer(cfg, run_dir, rank, world, device, resume, init_weights).train()
    return metrics if rank == 0 else None


def train(
    cfg: Config, *, name: str = "run", resume: bool = False, init_weights: str | os.PathLike | None = None
) -> tuple[Path, dict]:
    """Trains `cfg` (a `pytc.config.Config`) and returns (run folder, last validation metrics or None).

    The run folder is `cfg.output`, else runs/<name>. Raises ConfigError for anything in the config or the
    machine that a person must change; nothing is started then.
    """
    run_dir = Path(cfg.output or Path("runs") / name).absolute()
    cfg.output = str(run_dir)
    world = _processes(cfg)
    _check(cfg, world, resume, run_dir)
    if init_weights is not None and not Path(init_weights).exists():
        raise ConfigError(f"--checkpoint: {init_weights} does not exist")
    import torch

    threads = cfg.system.threads or max(1, (os.cpu_count() or 1) // world)
    if int(os.environ.get("RANK", 0)) == 0:
        write_run_files(run_dir, cfg, world, threads)
    if cfg.system.deterministic:
        torch.use_deterministic_algorithms(True)
    metrics = launch(_process, world, cfg.system.num_gpu > 0, cfg.system.threads, (cfg, run_dir, resume, init_weights))
    return run_dir, metrics
