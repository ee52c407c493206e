"""Losses for EM segmentation, with per-voxel weights, and a multitask criterion over channel ranges.

Every loss is called as ``loss(output, target, weight=None)``. BCE, focal and cross-entropy take logits
(their activation is fused for numerical stability: `LOGIT_LOSSES`); Dice, Jaccard, MSE and MAE take the
output after its activation (probabilities for Dice and Jaccard). Weighted losses average
``weight * loss`` over all elements. `MultitaskCriterion` applies each loss's activation before it, as
PyTorch Connectomics' ``OUTPUT_ACT`` does.

Losses register by the name configs use in `LOSSES` (``@LOSSES.register("name")``); `build_loss` looks it up,
and an unknown name is an error that lists the known ones.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .registry import Registry
from .validation import check_choice, check_number, fail

LOSSES = Registry("loss")


def _weighted_mean(loss: Tensor, weight: Tensor | None) -> Tensor:
    return loss.mean() if weight is None else (loss * weight).mean()


@LOSSES.register("bce")
class WeightedBCEWithLogits(nn.Module):
    def forward(self, output: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return F.binary_cross_entropy_with_logits(output, target, weight=weight, reduction="mean")


@LOSSES.register("mse")
class WeightedMSE(nn.Module):
    def forward(self, output: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return _weighted_mean((output - target) ** 2, weight)


@LOSSES.register("mae")
class WeightedMAE(nn.Module):
    def forward(self, output: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return _weighted_mean((output - target).abs(), weight)


class _Overlap(nn.Module):
    """Soft overlap losses on probabilities, per channel over batch and space, averaged over channels."""

    def __init__(self, smooth: float = 1.0):
        super().__init__()
        self.smooth = smooth

    def sums(self, p, target, weight):
        w = torch.ones_like(p) if weight is None else weight
        dims = [0] + list(range(2, p.dim()))
        return (w * p * target).sum(dims), (w * p).sum(dims), (w * target).sum(dims)


@LOSSES.register("dice")
class DiceLoss(_Overlap):
    """1 - (2 |P.T| + s) / (|P| + |T| + s)."""

    def forward(self, output: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        inter, p, t = self.sums(output, target, weight)
        return (1 - (2 * inter + self.smooth) / (p + t + self.smooth)).mean()


@LOSSES.register("jaccard")
class JaccardLoss(_Overlap):
    """1 - (|P.T| + s) / (|P| + |T| - |P.T| + s)."""

    def forward(self, output: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        inter, p, t = self.sums(output, target, weight)
        return (1 - (inter + self.smooth) / (p + t - inter + self.smooth)).mean()


@LOSSES.register("focal")
class FocalLoss(nn.Module):
    """Binary focal loss (Lin et al. 2017): -alpha_t (1 - p_t)^gamma log(p_t), from logits."""

    def __init__(self, gamma: float = 2.0, alpha: float = 0.25):
        super().__init__()
        self.gamma = check_number(gamma, "FocalLoss", "gamma", low=0)
        self.alpha = check_number(alpha, "FocalLoss", "alpha", low=0, high=1)

    def forward(self, output: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        ce = F.binary_cross_entropy_with_logits(output, target, reduction="none")
        p_t = torch.exp(-ce)
        alpha_t = self.alpha * target + (1 - self.alpha) * (1 - target)
        return _weighted_mean(alpha_t * (1 - p_t) ** self.gamma * ce, weight)


@LOSSES.register("ce")
class WeightedCrossEntropy(nn.Module):
    """Cross-entropy over the class channels of `output` (N, K, ...) against integer classes `target`
    (N, ...) or (N, 1, ...), with optional class weights and per-voxel weights."""

    def __init__(self, class_weights: Sequence[float] | Tensor | None = None, ignore_index: int = -100):
        super().__init__()
        self.register_buffer(
            "class_weights", None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        )
        self.ignore_index = ignore_index

    def forward(self, output: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        if target.dim() == output.dim():
            target = target[:, 0]
        loss = F.cross_entropy(
            output, target.long(), weight=self.class_weights, ignore_index=self.ignore_index, reduction="none"
        )
        if weight is not None and weight.dim() == output.dim():
            weight = weight[:, 0]
        return _weighted_mean(loss, weight)


# losses that take logits: their activation is part of the loss (the criterion applies none before them)
LOGIT_LOSSES = ("bce", "focal", "ce")
# name -> function: the activations a task or a loss entry names
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": torch.sigmoid,
    "softmax": lambda x: torch.softmax(x, 1),
    "tanh": torch.tanh,
    "none": lambda x: x,
}


def _check_activation(activation: str, arg: str) -> str:
    return check_choice(activation, "MultitaskCriterion", arg, ACTIVATIONS)


def build_loss(spec: str | Mapping[str, Any]) -> nn.Module:
    """A loss of `LOSSES` from a name ('bce') or a dict {'name': 'focal', 'gamma': 2} (the other keys are the
    loss's keyword arguments).

    >>> build_loss({"name": "focal", "gamma": 1.0}).gamma
    1.0
    """
    if not isinstance(spec, (str, Mapping)):
        raise fail("build_loss", "spec", "a loss name or a dict with a 'name' key", repr(spec), TypeError)
    spec = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = spec.pop("name", None)
    loss = LOSSES.get(name)
    try:
        return loss(**spec)
    except TypeError as e:
        raise ValueError(
            f"build_loss: the options of loss `{name}` must be keyword arguments of {loss.__name__}; got {spec} ({e})"
        ) from None


class MultitaskCriterion(nn.Module):
    """Sums weighted losses of several tasks, each reading its own channel ranges.

    Parameters
    ----------
    tasks : list of dict
        ``{"output": (start, stop), "target": (start, stop), "losses": [("bce", 1.0), ("dice", 0.5)],
        "activation": "sigmoid"}``: the task's output channels, target (and weight) channels, its losses with
        their weights, and its activation at inference. "target" defaults to "output". A loss entry may name
        its own activation as a third item, ``("mse", 1.0, "tanh")``; by default (or None) the losses that take logits
        (`LOGIT_LOSSES`) get none and the others the task's activation, so a tanh distance task trains with
        tanh before its MSE, and Dice sees sigmoid probabilities.

    The total is ``sum over tasks and losses of weight * loss(act(output[:, o0:o1]), target[:, t0:t1],
    weight[:, t0:t1])``: each weight is applied once. `forward` also returns the parts by name.
    """

    def __init__(self, tasks: Sequence[Mapping[str, Any]]):
        super().__init__()
        self.tasks = []
        self.losses = nn.ModuleList()
        for i, task in enumerate(tasks):
            out = tuple(task["output"])
            target = tuple(task.get("target", out))
            for key, channels in (("output", out), ("target", target)):
                if len(channels) != 2 or channels[0] >= channels[1]:
                    raise fail(
                        "MultitaskCriterion",
                        f"tasks[{i}].{key}",
                        "a (start, stop) channel range, start < stop",
                        channels,
                    )
            activation = _check_activation(task.get("activation", "none"), f"tasks[{i}].activation")
            entries = []
            for j, (spec, weight, *act) in enumerate(task["losses"]):
                self.losses.append(build_loss(spec))
                name = spec if isinstance(spec, str) else spec["name"]
                act = act[0] if act and act[0] is not None else "none" if name in LOGIT_LOSSES else activation
                act = _check_activation(act, f"tasks[{i}].losses[{j}].activation")
                entries.append((len(self.losses) - 1, float(weight), name, act))
            self.tasks.append(
                {
                    "output": out,
                    "target": target,
                    "losses": entries,
                    "activation": activation,
                    "name": task.get("name", f"task{i}"),
                }
            )

    @classmethod
    def from_target_channels(
        cls,
        channels: Sequence[tuple[str, int, int]],
        losses: Mapping[str, Sequence[tuple[Any, ...]]],
        activations: Mapping[str, str] | None = None,
    ) -> "MultitaskCriterion":
        """Tasks whose output and target channels coincide, from `build_targets`' channel records
        [(name, start, stop), ...] and a dict name -> list of (loss, weight)."""
        activations = activations or {}
        return cls(
            [
                {"name": name, "output": (a, b), "losses": losses[name], "activation": activations.get(name, "none")}
                for name, a, b in channels
            ]
        )

    def forward(self, output: Tensor, target: Tensor, weight: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        total, parts = 0.0, {}
        for task in self.tasks:
            (o0, o1), (t0, t1) = task["output"], task["target"]
            if o1 > output.shape[1] or t1 > target.shape[1]:
                raise ValueError(
                    f"MultitaskCriterion: `output` and `target` must have the channels that task "
                    f"{task['name']} reads (output channels {o0}:{o1} and target channels {t0}:{t1}); "
                    f"got {output.shape[1]} and {target.shape[1]}"
                )
            w = None if weight is None else weight[:, t0:t1]
            for index, scale, name, activation in task["losses"]:
                value = self.losses[index](ACTIVATIONS[activation](output[:, o0:o1]), target[:, t0:t1], w)
                parts[f"{task['name']}/{name}"] = value.detach()
                total = total + scale * value
        return total, parts

    @property
    def activations(self) -> list[tuple[int, int, str]]:
        """[(output start, stop, activation)] of every task, for inference."""
        return [(*task["output"], task["activation"]) for task in self.tasks]

    def activate(self, output: Tensor) -> Tensor:
        """The output with each task's activation applied to its channels (for inference)."""
        out = output.clone()
        for task in self.tasks:
            o0, o1 = task["output"]
            out[:, o0:o1] = ACTIVATIONS[task["activation"]](output[:, o0:o1])
        return out


def criterion_from_layout(layout: Sequence[Any]) -> MultitaskCriterion:
    """The `MultitaskCriterion` of a task layout (`pytc.data.tasks.task_layout`)."""
    return MultitaskCriterion(
        [
            {
                "name": t.name,
                "output": t.output,
                "target": t.channels,
                "losses": list(t.losses),
                "activation": t.activation,
            }
            for t in layout
        ]
    )
