"""The channel layout of a multitask network: which output and target channels each task owns.

Built from the ``tasks`` of a config (`pytc.config.schema.TaskConfig`), it is what the data (targets), the
model (output channels), the criterion (losses) and inference (activations) agree on.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .targets import DEFAULT_ACTIVATIONS, TARGETS, target_channels


@dataclass(frozen=True)
class Task:
    name: str
    target: dict  # a `build_targets` spec: {"name": ..., options..., "weight": ..., weight options...}
    output: tuple  # (start, stop) of the network's output channels
    channels: tuple  # (start, stop) of the target and weight channels
    activation: str  # at inference
    losses: tuple  # ((loss spec, weight, activation or None for the loss's default), ...)


def task_layout(tasks: Sequence[Any], ndim: int = 3) -> list[Task]:
    """[Task] from config task entries (objects with the `TaskConfig` fields), in channel order.

    Examples
    --------
    >>> from pytc.config.schema import TaskConfig
    >>> [(t.name, t.output, t.activation) for t in task_layout([TaskConfig("affinity"), TaskConfig("binary")])]
    [('affinity', (0, 3), 'sigmoid'), ('binary', (3, 4), 'sigmoid')]
    """
    layout, out_start, target_start = [], 0, 0
    names = set()
    for i, task in enumerate(tasks):
        if task.target not in TARGETS:
            raise ValueError(f"tasks.{i}.target: unknown target {task.target!r}; known: {', '.join(sorted(TARGETS))}")
        name = task.name or task.target
        if name in names:
            raise ValueError(f"tasks.{i}: two tasks are named {name!r}; give them distinct `name`s")
        names.add(name)
        n_target, n_output = target_channels(task.target, task.options, ndim)
        activation = task.activation or DEFAULT_ACTIVATIONS[task.target]
        losses = [({"name": loss.name, **loss.options}, loss.weight, loss.activation) for loss in task.losses]
        if not losses:
            raise ValueError(f"tasks.{i}.losses: a task needs at least one loss")
        spec = {"name": task.target, **task.options}
        if task.weight:
            spec.update(weight=task.weight, **task.weight_options)
        layout.append(
            Task(
                name,
                spec,
                (out_start, out_start + n_output),
                (target_start, target_start + n_target),
                activation,
                tuple(losses),
            )
        )
        out_start += n_output
        target_start += n_target
    if not layout:
        raise ValueError("tasks: the config needs at least one task")
    return layout
