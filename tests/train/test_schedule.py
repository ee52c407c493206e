import itertools
import math

import pytest
import torch

from pytc.config import load_config
from pytc.train.schedule import ModelEMA, learning_rate


def solver(*overrides):
    return load_config(None, [("solver." + k, v) for k, v in overrides]).solver


def test_warmup_then_cosine():
    s = solver(("lr", 1.0), ("warmup", 10), ("warmup_factor", 0.1), ("iterations", 110), ("min_lr", 0.2))
    assert learning_rate(s, 0) == pytest.approx(0.1)
    assert learning_rate(s, 5) == pytest.approx(0.55)
    assert learning_rate(s, 10) == pytest.approx(1.0)
    assert learning_rate(s, 60) == pytest.approx(0.6)  # half way down the cosine
    assert learning_rate(s, 110) == pytest.approx(0.2)
    assert learning_rate(s, 60, progress=1.0) == pytest.approx(0.2)  # a time budget drives the decay
    rates = [learning_rate(s, i) for i in range(10, 111)]
    assert all(a >= b for a, b in itertools.pairwise(rates))


def test_multistep_and_constant():
    s = solver(("lr", 1.0), ("warmup", 0), ("schedule", "multistep"), ("milestones", [10, 20]), ("gamma", 0.5))
    assert [learning_rate(s, i) for i in (0, 9, 10, 19, 20, 100)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    s = solver(("lr", 0.3), ("warmup", 4), ("warmup_factor", 0.0), ("schedule", "constant"))
    assert [learning_rate(s, i) for i in (0, 2, 4, 1000)] == pytest.approx([0.0, 0.15, 0.3, 0.3])


def test_ema_averages_weights_and_copies_buffers():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    ema = ModelEMA(model, 0.9)
    before = ema.module[0].weight.clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].running_mean.fill_(3.0)
    ema.update(model)
    torch.testing.assert_close(ema.module[0].weight, 0.9 * before + 0.1 * model[0].weight)
    assert torch.equal(ema.module[1].running_mean, torch.full((2,), 3.0))
    assert not any(p.requires_grad for p in ema.module.parameters())
    with pytest.raises(ValueError, match=r"`decay` must be in \(0, 1\); got 1.0"):
        ModelEMA(model, 1.0)
    assert math.isfinite(float(ema.module[0].weight.sum()))
