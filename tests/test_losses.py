import math

import pytest
import torch

from pytc.losses import (
    LOSSES,
    DiceLoss,
    FocalLoss,
    JaccardLoss,
    MultitaskCriterion,
    WeightedBCEWithLogits,
    WeightedCrossEntropy,
    WeightedMAE,
    WeightedMSE,
    build_loss,
)

OUT = torch.tensor([[[0.0, 2.0], [-1.0, 1.0]]])  # (N=1, C=2, 2 voxels): logits / values
TARGET = torch.tensor([[[0.0, 1.0], [1.0, 1.0]]])
WEIGHT = torch.tensor([[[1.0, 2.0], [0.5, 0.0]]])


def sig(v):
    return 1 / (1 + math.exp(-v))


def test_bce_mse_mae_by_hand():
    o, t, w = [0.0, 2.0, -1.0, 1.0], [0.0, 1.0, 1.0, 1.0], [1.0, 2.0, 0.5, 0.0]
    bce = [-(ti * math.log(sig(oi)) + (1 - ti) * math.log(1 - sig(oi))) for oi, ti in zip(o, t)]
    assert WeightedBCEWithLogits()(OUT, TARGET, WEIGHT).item() == pytest.approx(
        sum(b * wi for b, wi in zip(bce, w)) / 4
    )
    assert WeightedMSE()(OUT, TARGET, WEIGHT).item() == pytest.approx((0 + 2 * 1 + 0.5 * 4 + 0) / 4)
    assert WeightedMAE()(OUT, TARGET).item() == pytest.approx((0 + 1 + 2 + 0) / 4)


def test_dice_jaccard_by_hand():
    dice, jaccard = [], []
    for logits, t in (((0.0, 2.0), (0.0, 1.0)), ((-1.0, 1.0), (1.0, 1.0))):  # per channel, then the mean
        p = [sig(v) for v in logits]
        inter, sp, st = sum(a * b for a, b in zip(p, t)), sum(p), sum(t)
        dice.append(1 - (2 * inter + 1) / (sp + st + 1))
        jaccard.append(1 - inter / (sp + st - inter))
    probabilities = torch.sigmoid(OUT)  # Dice and Jaccard take probabilities
    assert DiceLoss(smooth=1)(probabilities, TARGET).item() == pytest.approx(sum(dice) / 2)
    assert JaccardLoss(smooth=0)(probabilities, TARGET).item() == pytest.approx(sum(jaccard) / 2)


def test_focal_by_hand():
    o, t = [0.0, 2.0, -1.0, 1.0], [0.0, 1.0, 1.0, 1.0]
    total = 0.0
    for oi, ti in zip(o, t):
        p_t = sig(oi) if ti else 1 - sig(oi)
        alpha_t = 0.25 if ti else 0.75
        total += -alpha_t * (1 - p_t) ** 2 * math.log(p_t)
    assert FocalLoss()(OUT, TARGET).item() == pytest.approx(total / 4)
    with pytest.raises(ValueError, match=r"FocalLoss: `gamma` must be in \[0, inf\]; got -1"):
        FocalLoss(gamma=-1)


def test_cross_entropy_with_class_weights_by_hand():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [1.0, 3.0]]])  # (N=1, K=3, 2 voxels)
    classes = torch.tensor([[[0, 2]]])
    ce = WeightedCrossEntropy(class_weights=[1.0, 1.0, 3.0])(logits, classes)
    lse = [math.log(math.exp(2) + 1 + math.e), math.log(1 + math.e + math.exp(3))]
    expected = ((lse[0] - 2.0) * 1.0 + (lse[1] - 3.0) * 3.0) / 2  # per-voxel class weight, then the mean
    assert ce.item() == pytest.approx(expected)


def test_multitask_applies_each_weight_once():
    output = torch.randn(2, 4, 5, 6)
    target = (torch.rand(2, 4, 5, 6) > 0.5).float()
    weight = torch.rand(2, 4, 5, 6)
    criterion = MultitaskCriterion(
        [
            {"name": "affinity", "output": (0, 3), "losses": [("bce", 1.0), ("dice", 0.5)], "activation": "sigmoid"},
            {"name": "distance", "output": (3, 4), "losses": [("mse", 2.0)], "activation": "tanh"},
        ]
    )
    total, parts = criterion(output, target, weight)
    expected = (
        WeightedBCEWithLogits()(output[:, :3], target[:, :3], weight[:, :3])  # logits
        + 0.5 * DiceLoss()(torch.sigmoid(output[:, :3]), target[:, :3], weight[:, :3])
        + 2.0 * WeightedMSE()(torch.tanh(output[:, 3:]), target[:, 3:], weight[:, 3:])
    )
    assert total.item() == pytest.approx(expected.item())
    assert set(parts) == {"affinity/bce", "affinity/dice", "distance/mse"}
    active = criterion.activate(output)
    torch.testing.assert_close(active[:, :3], torch.sigmoid(output[:, :3]))
    torch.testing.assert_close(active[:, 3:], torch.tanh(output[:, 3:]))
    from_channels = MultitaskCriterion.from_target_channels(
        [("affinity", 0, 3), ("distance", 3, 4)],
        {"affinity": [("bce", 1.0), ("dice", 0.5)], "distance": [("mse", 2.0)]},
        {"affinity": "sigmoid", "distance": "tanh"},
    )
    assert from_channels(output, target, weight)[0].item() == pytest.approx(total.item())


def test_each_loss_gets_its_own_activation():
    output, target = torch.randn(2, 2, 5, 6), torch.rand(2, 2, 5, 6) * 2 - 1
    criterion = MultitaskCriterion(
        [
            {"name": "d", "output": (0, 1), "losses": [("mse", 1.0), ("mae", 1.0, "none")], "activation": "tanh"},
            {"name": "b", "output": (1, 2), "losses": [("dice", 1.0, "softmax"), ("focal", 1.0)]},
        ]
    )
    _, parts = criterion(output, target)
    assert parts["d/mse"].item() == pytest.approx(WeightedMSE()(torch.tanh(output[:, :1]), target[:, :1]).item())
    assert parts["d/mae"].item() == pytest.approx(WeightedMAE()(output[:, :1], target[:, :1]).item())
    softmax = torch.softmax(output[:, 1:], 1)
    assert parts["b/dice"].item() == pytest.approx(DiceLoss()(softmax, target[:, 1:]).item())
    assert parts["b/focal"].item() == pytest.approx(FocalLoss()(output[:, 1:], target[:, 1:]).item())
    assert criterion.activations == [(0, 1, "tanh"), (1, 2, "none")]
    with pytest.raises(ValueError, match=r"`tasks\[0\]\.losses\[0\]\.activation` must be one of .*; got 'relu'"):
        MultitaskCriterion([{"output": (0, 1), "losses": [("mse", 1.0, "relu")]}])


def test_bad_specs():
    with pytest.raises(ValueError, match=r"`hinge` is not a known loss; the known ones are \['bce', 'ce', 'dice'"):
        build_loss("hinge")
    with pytest.raises(
        ValueError, match=r"`tasks\[0\]\.output` must be a \(start, stop\) channel range, start < stop; got \(3, 1\)"
    ):
        MultitaskCriterion([{"output": (3, 1), "losses": [("bce", 1)]}])
    with pytest.raises(ValueError, match=r"`tasks\[0\]\.activation` must be one of \('sigmoid', .*\); got 'relu6'"):
        MultitaskCriterion([{"output": (0, 1), "losses": [("bce", 1)], "activation": "relu6"}])
    criterion = MultitaskCriterion([{"output": (0, 5), "losses": [("mse", 1)]}])
    with pytest.raises(ValueError, match=r"reads \(output channels 0:5 and target channels 0:5\); got 3 and 3"):
        criterion(torch.zeros(1, 3, 2), torch.zeros(1, 3, 2))
    with pytest.raises(TypeError, match=r"build_loss: `spec` must be a loss name or a dict with a 'name' key; got 3"):
        build_loss(3)
    with pytest.raises(
        ValueError, match=r"build_loss: the options of loss `dice` must be keyword arguments of DiceLoss"
    ):
        build_loss({"name": "dice", "gamma": 2})


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_registered_loss_builds_by_name(name):
    output, target = torch.randn(2, 3, 4, 5), (torch.rand(2, 3, 4, 5) > 0.5).float()
    if name == "ce":
        target = target[:, :1]
    loss = build_loss(name)
    assert isinstance(loss, LOSSES.get(name)) and torch.isfinite(loss(output, target, torch.rand(2, 1, 4, 5)))
