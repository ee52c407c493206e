"""The run folder and the checks made before any process starts: volume paths, shapes, batch split, GPUs.

A run folder holds everything about a run: config.yaml (the resolved config), env.json (versions, threads,
git commit), metrics.jsonl, tensorboard/, checkpoint_NNNNNNN.pt (the last few), checkpoint_best.pt.
"""

import json
import os
import platform
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..config import ConfigError, dump_config

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "demo" / "data"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_path(text, key):
    """`text` with ``${NAME}`` replaced by the environment variable NAME, or ``${pytc_sample}`` by the folder
    of the sample shipped with pytc; a relative path is made absolute (from the working directory)."""
    from ..data.io import split_dataset

    def replace(match):
        name = match.group(1)
        if name == "pytc_sample":
            return str(SAMPLE_DIR)
        if name not in os.environ:
            raise ConfigError(f"config: `{key}` uses ${{{name}}}, but the environment variable {name} is not set")
        return os.environ[name]

    path, dataset = split_dataset(_VARIABLE.sub(replace, text))
    path = str(Path(path).expanduser().absolute()) if not any(c in path for c in "*?[") else path
    return path if dataset is None else f"{path}:{dataset}"


def resolve_volumes(cfg, need_val=False):
    """Expands and checks every volume path of `cfg.data` in place; raises ConfigError naming the key."""
    from ..data.io import split_dataset

    for split in ("train", "val"):
        volumes = getattr(cfg.data, split)
        if not volumes.image:
            if split == "train" or need_val:
                raise ConfigError(
                    f"config: `data.{split}.image` is empty; set it, e.g. data.{split}.image=[volume.h5:raw]"
                )
            continue
        for kind in ("image", "label", "mask"):
            paths = getattr(volumes, kind)
            if paths and len(paths) != len(volumes.image):
                raise ConfigError(
                    f"config: `data.{split}.{kind}` must list one volume per image "
                    f"({len(volumes.image)}); got {len(paths)}"
                )
            expanded = []
            for i, text in enumerate(paths):
                key = f"data.{split}.{kind}.{i}"
                path = expand_path(text, key)
                file = split_dataset(path)[0]
                if not any(c in file for c in "*?[") and not Path(file).exists():
                    raise ConfigError(f"config: `{key}`: {file} does not exist")
                expanded.append(path)
            setattr(volumes, kind, expanded)
        if split == "train" and not volumes.label:
            raise ConfigError("config: `data.train.label` is empty; training needs one label volume per image")
        if split == "val" and not volumes.label:
            raise ConfigError(
                "config: `data.val.label` is empty; validation needs one label volume per image "
                "(or turn it off with val.every=0)"
            )


def _git_commit():
    source = Path(__file__).resolve().parents[2]
    if not (source / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(world, threads):
    """Versions, devices, threads and the git commit, for env.json."""
    import numpy
    import torch

    import pytc

    cuda = torch.cuda.is_available()
    return {
        "pytc": pytc.__version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "command": sys.argv,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
        "processes": world,
        "torch_threads": threads,
        "cpu_count": os.cpu_count(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }


def write_run_files(run_dir, cfg, world, threads):
    """config.yaml and env.json in the run folder (env.json of a resumed run gets a new name)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(dump_config(cfg))
    name = "env.json" if not (run_dir / "env.json").exists() else f"env_resumed_{time.strftime('%Y%m%d_%H%M%S')}.json"
    (run_dir / name).write_text(json.dumps(environment(world, threads), indent=2) + "\n")
