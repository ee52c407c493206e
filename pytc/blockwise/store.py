"""The work folder of a blockwise job: its parameters and a record of every finished block, so a re-run skips them.

A block's record is written when its task completes, by writing a temporary file and renaming it (atomic on a
POSIX file system): a worker killed mid-task leaves no record, and the task runs again.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


class JobFolder:
    """Records of a blockwise job under `path`: ``job.json`` (its parameters) and ``<step>/<block>.npz``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def start(self, parameters: dict[str, Any], overwrite: bool = False) -> bool:
        """Creates the folder for a job with `parameters`; True when it resumes the same job's earlier run.

        A folder of a job with other parameters is an error unless `overwrite` (then its records are dropped).
        """
        record = self.path / "job.json"
        parameters = json.loads(json.dumps(parameters))  # as stored: tuples become lists
        if record.exists():
            earlier = json.loads(record.read_text())
            if earlier == parameters:
                return True
            if not overwrite:
                changed = sorted(k for k in set(earlier) | set(parameters) if earlier.get(k) != parameters.get(k))
                raise ValueError(
                    f"the work folder {self.path} holds a job with other parameters ({', '.join(changed)} differ): "
                    "pass overwrite=True (--overwrite) to start again, or another work folder"
                )
        if self.path.exists() and overwrite:
            import shutil

            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        _atomic_write(record, json.dumps(parameters, indent=2).encode())
        return False

    def record_path(self, step: str, index: int | str) -> Path:
        return self.path / step / f"{index}.npz"

    def done(self, step: str, index: int | str) -> bool:
        return self.record_path(step, index).exists()

    def save(self, step: str, index: int | str, **arrays: Any) -> Path:
        """Records block `index` of `step` as finished, with `arrays` (numpy arrays or scalars)."""
        path = self.record_path(step, index)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
            np.savez(f, **arrays)
        os.replace(f.name, path)
        return path

    def load(self, step: str, index: int | str) -> dict[str, np.ndarray]:
        with np.load(self.record_path(step, index), allow_pickle=False) as data:
            return {key: data[key] for key in data.files}

    def count(self, step: str) -> int:
        folder = self.path / step
        return len(list(folder.glob("*.npz"))) if folder.is_dir() else 0


def _atomic_write(path, data):
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
        f.write(data)
    os.replace(f.name, path)
