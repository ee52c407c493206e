"""The learning-rate schedule (warm-up, then cosine, multistep or constant) and the weight EMA."""

import copy
import math

import torch


def learning_rate(solver, iteration, progress=None):
    """The rate at `iteration` (0-based) for a `SolverConfig`.

    Linear warm-up from ``warmup_factor * lr`` to ``lr`` over ``warmup`` iterations, then:
    cosine from ``lr`` to ``min_lr`` by the last iteration, multistep (times ``gamma`` at each milestone
    passed) or constant. `progress` in [0, 1], when given, replaces the iteration's position in the decay
    (time-budgeted runs follow the elapsed time).
    """
    lr = solver.lr
    if solver.schedule == "multistep":
        lr *= solver.gamma ** sum(iteration >= m for m in solver.milestones)
    elif solver.schedule == "cosine":
        if progress is None:
            span = max(1, solver.iterations - solver.warmup)
            progress = (iteration - solver.warmup) / span
        progress = min(1.0, max(0.0, progress))
        lr = solver.min_lr + (solver.lr - solver.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
    if iteration < solver.warmup:
        alpha = iteration / solver.warmup
        lr *= solver.warmup_factor * (1 - alpha) + alpha
    return lr


class ModelEMA:
    """An exponential moving average of a model's weights: ``ema = decay * ema + (1 - decay) * weights`` after
    each optimiser step; buffers (batch-norm statistics) are copied. `module` is the averaged model."""

    def __init__(self, model, decay):
        if not 0 < decay < 1:
            raise ValueError(f"ModelEMA: `decay` must be in (0, 1); got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model):
        for ema, p in zip(self.module.parameters(), model.parameters()):
            ema.lerp_(p.detach(), 1 - self.decay)
        for ema, b in zip(self.module.buffers(), model.buffers()):
            ema.copy_(b)

    def state_dict(self):
        return self.module.state_dict()

    def load_state_dict(self, state):
        self.module.load_state_dict(state)
