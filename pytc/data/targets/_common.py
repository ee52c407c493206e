"""Checks and shape helpers shared by the target and weight functions."""

import numpy as np

from ...validation import as_label_array, check_choice, check_ndim, fail


def _labels(label, fn, allow_2d=True):
    """`label` as an integer or bool ndarray, (Z, Y, X) (or (Y, X) with `allow_2d`)."""
    label = as_label_array(label, fn, "label", allow_bool=True)
    return check_ndim(
        label, fn, "label", (2, 3) if allow_2d else (3,), "3D (Z, Y, X) or 2D (Y, X)" if allow_2d else "3D (Z, Y, X)"
    )


def _as3d(label):
    """(label as 3D, is_2d)."""
    return (label[None], True) if label.ndim == 2 else (label, False)


def _out(t, was_2d):
    """Add the channel axis, drop the fake Z axis of 2D inputs, cast to float32."""
    t = np.asarray(t, dtype=np.float32)
    if t.ndim == 3:
        t = t[None]
    return np.ascontiguousarray(t[:, 0] if was_2d else t)


def _mode(mode, fn):
    return check_choice(mode, fn, "mode", ("2d", "3d"))


def _resolution(resolution, fn):
    r = tuple(float(v) for v in np.broadcast_to(np.asarray(resolution, float), (3,)))
    if any(not v > 0 for v in r):
        raise fail(fn, "resolution", "positive", repr(resolution))
    return r
