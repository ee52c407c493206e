"""Test-time augmentation: flips in z, y and x and the y-x transpose, each inverted on the output.

Affinity channels need more than inverting the array: under a flip along an axis, the channel of offset o
(the edge from v to v + o) holds, back in the original frame, the edge from v to v - o, i.e. the channel
of offset -o, one offset away. Under the y-x transpose the y and x channels trade places. `Transform.invert`
maps every affinity channel back to its own offset, so an exactly equivariant model gives identical outputs
for every variant (PyTorch Connectomics swapped channels here).
"""

import itertools

import torch

VARIANTS = (1, 4, 8, 16)


class Transform:
    """Flips of some of the spatial axes (0 = z, 1 = y, 2 = x), then optionally the y-x transpose."""

    def __init__(self, flips=(), transpose=False):
        self.flips, self.transpose = tuple(sorted(flips)), bool(transpose)

    def __repr__(self):
        return f"Transform(flips={self.flips}, transpose={self.transpose})"

    def apply(self, x):
        """The transformed (N, C, Z, Y, X) tensor."""
        if self.flips:
            x = torch.flip(x, [2 + a for a in self.flips])
        return x.transpose(3, 4) if self.transpose else x

    def _offset_in_transformed_frame(self, offset):
        """Where the edge (v, v + offset) of the original frame points in the transformed frame."""
        o = [-d if a in self.flips else d for a, d in enumerate(offset)]
        return (o[0], o[2], o[1]) if self.transpose else tuple(o)

    def invert(self, y, offsets=None):
        """The (N, C, Z, Y, X) output of the transformed input, brought back to the original frame.

        `offsets[c]` is the offset of output channel c when it is an affinity channel, else None. Every
        affinity channel is taken from the channel that measured the same edges, shifted where that channel
        measured them from the other end; the voxels a shift leaves uncovered keep the unshifted value.
        Raises ValueError when an affinity channel has no counterpart (a set of offsets that the transform
        does not map onto itself).
        """
        if self.transpose:
            y = y.transpose(3, 4)
        if self.flips:
            y = torch.flip(y, [2 + a for a in self.flips])
        if offsets is None or all(o is None for o in offsets):
            return y
        index = {tuple(o): c for c, o in enumerate(offsets) if o is not None}
        out = y.clone()
        for c, offset in enumerate(offsets):
            if offset is None:
                continue
            seen = self._offset_in_transformed_frame(offset)  # the same edges, as the network saw them
            if seen in index:
                out[:, c] = y[:, index[seen]]
            elif tuple(-d for d in seen) in index:  # measured from the other end: shift by the offset
                out[:, c] = _shift(y[:, index[tuple(-d for d in seen)]], offset)
            else:
                raise ValueError(
                    f"test-time augmentation: {self} maps the affinity offset {tuple(offset)} to "
                    f"{seen}, which no output channel has; use fewer variants"
                )
        return out


def _shift(channel, offset):
    """``out[v] = channel[v + offset]`` for (N, Z, Y, X) channels where v + offset is inside, else channel[v]."""
    out = channel.clone()
    target, source = [slice(None)], [slice(None)]
    for d, n in zip(offset, channel.shape[1:]):
        if abs(d) >= n:
            return out
        target.append(slice(max(0, -d), n - max(0, d)))
        source.append(slice(max(0, d), n - max(0, -d)))
    out[tuple(target)] = channel[tuple(source)]
    return out


def transforms(variants, two_d=False):
    """The `variants` transforms: 1 (identity), 4 (flips in y and x), 8 (flips in z, y and x) or 16 (those and
    the y-x transpose). 2D models have no z axis to flip: 8 and 16 flip y and x, with and without transposing."""
    if variants not in VARIANTS:
        raise ValueError(f"test-time augmentation: `variants` must be one of {VARIANTS}; got {variants!r}")
    axes = (1, 2) if variants == 4 or two_d else (0, 1, 2)
    flips = [tuple(a for a, on in zip(axes, mask) if on) for mask in itertools.product((0, 1), repeat=len(axes))]
    transposes = (False, True) if variants == 16 or (two_d and variants == 8) else (False,)
    out = [Transform(f, t) for t in transposes for f in flips]
    return out[:1] if variants == 1 else out
