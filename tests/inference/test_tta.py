"""Test-time augmentation: every variant's inverse is exact, affinity channels included (an exactly equivariant
affinity model gives the same output under every variant, where PyTorch Connectomics swapped channels)."""

import numpy as np
import pytest
import torch

from pytc.inference import Transform, predict_array, transforms
from pytc.kernels import DEFAULT_OFFSETS

LONG_RANGE = [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (-2, 0, 0), (0, -3, 0), (0, 0, -3)]


class AffinityOf(torch.nn.Module):
    """An exact affinity 'network': channel c is 1 - |x(v) - x(v + o_c)| (0 where v + o_c is outside), so its
    output under a flip or transpose is the transformed affinity map, with channels moved as offsets move."""

    ndim = 3

    def __init__(self, offsets, extra=0):
        super().__init__()
        self.offsets, self.extra = offsets, extra
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def min_size(self):
        return (1, 1, 1)

    def forward(self, x):
        out = torch.zeros((x.shape[0], len(self.offsets) + self.extra) + x.shape[2:])
        for c, offset in enumerate(self.offsets):
            here, there = [slice(None)] * 2, [slice(None)] * 2
            for d, n in zip(offset, x.shape[2:]):
                here.append(slice(max(0, -d), n - max(0, d)))
                there.append(slice(max(0, d), n - max(0, -d)))
            out[(slice(None), c) + tuple(here[2:])] = 1 - (x[tuple(here)] - x[tuple(there)]).abs()[:, 0]
        for e in range(self.extra):  # a plain (equivariant) channel: the image itself
            out[:, len(self.offsets) + e] = x[:, 0]
        return out


@pytest.mark.parametrize("offsets", [list(DEFAULT_OFFSETS[3]), LONG_RANGE])
def test_every_variant_inverts_exactly(offsets, rng):
    x = torch.from_numpy(rng.random((1, 1, 6, 9, 9)).astype(np.float32))
    model = AffinityOf(offsets, extra=1)
    reference = model(x)
    channel_offsets = list(offsets) + [None]
    margin = max(abs(d) for o in offsets for d in o)
    interior = (slice(None), slice(None)) + (slice(margin, -margin),) * 3  # edges leaving the volume differ
    for transform in transforms(16):
        out = transform.invert(model(transform.apply(x)), channel_offsets)
        torch.testing.assert_close(out[interior], reference[interior], rtol=0, atol=1e-6, msg=str(transform))
        torch.testing.assert_close(out[:, -1], reference[:, -1], rtol=0, atol=0)  # plain channels exactly


def test_swapping_channels_without_offsets_is_wrong(rng):
    """The check has teeth: inverting the array alone (PyTorch Connectomics) leaves y and x swapped."""
    x = torch.from_numpy(rng.random((1, 1, 4, 8, 8)).astype(np.float32))
    model = AffinityOf(list(DEFAULT_OFFSETS[3]))
    transpose = Transform(transpose=True)
    naive = transpose.invert(model(transpose.apply(x)))
    assert not torch.allclose(naive[:, 1:, 1:-1, 1:-1, 1:-1], model(x)[:, 1:, 1:-1, 1:-1, 1:-1])


def test_tta_prediction_equals_plain_for_an_equivariant_model(rng):
    image = rng.random((8, 20, 20)).astype(np.float32)
    offsets = list(DEFAULT_OFFSETS[3])
    model = AffinityOf(offsets)
    plain = predict_array(model, image, (8, 20, 20))
    result = predict_array(
        model, image, (8, 20, 20), tta=16, offsets=offsets, uncertainty=True, activations=[(0, 3, "none")]
    )
    interior = (slice(None), slice(1, -1), slice(1, -1), slice(1, -1))
    np.testing.assert_allclose(result["mean"][interior], plain[interior], atol=1e-6)
    assert result["variance"][interior].max() < 1e-5  # all variants agree (up to float sums of squares)


def test_variant_sets():
    assert len(transforms(1)) == 1 and len(transforms(4)) == 4 and len(transforms(8)) == 8
    assert len(transforms(16)) == 16 and len({repr(t) for t in transforms(16)}) == 16
    assert all(0 not in t.flips for t in transforms(4))
    assert all(0 not in t.flips for t in transforms(8, two_d=True))
    with pytest.raises(ValueError, match=r"`variants` must be one of \(1, 4, 8, 16\); got 2"):
        transforms(2)
    with pytest.raises(ValueError, match=r"maps the affinity offset \(0, -3, 0\) to \(0, 0, -3\), which no output"):
        Transform(transpose=True).invert(torch.zeros(1, 1, 2, 4, 4), [(0, -3, 0)])
