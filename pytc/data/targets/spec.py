"""Target specs, as configs write them: a target name or ``{"name": ..., **options, "weight": ...}``.

`build_targets` parses specs and stacks their targets and weights; `target_channels` sizes a target's channels
without building it; `spec_channels` gives the channel range of every spec of a list, as `build_targets` lays
them out.
"""

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...validation import fail
from ._common import _labels
from .targets import TARGETS
from .weights import affinity_mask, weight_binary_ratio, weight_unet

TargetSpec = str | Mapping[str, Any]
TargetSpecs = TargetSpec | Sequence[TargetSpec]

# the activation a network's output for each target usually gets at inference
DEFAULT_ACTIVATIONS = {
    "binary": "sigmoid",
    "affinity": "sigmoid",
    "boundary": "sigmoid",
    "instance_edt": "sigmoid",
    "quantized_edt": "softmax",
    "semantic_edt": "tanh",
    "polarity": "sigmoid",
    "semantic": "softmax",
    "small_object": "sigmoid",
}


def target_channels(name: str, options: Mapping[str, Any] | None = None, ndim: int = 3) -> tuple[int, int]:
    """(target channels, network output channels) of a target for `ndim`-D labels.

    They differ for class-index targets (semantic, quantized_edt): one target channel holds the class, and
    the network outputs one channel per class (for cross-entropy).

    Examples
    --------
    >>> target_channels("affinity"), target_channels("quantized_edt", {"levels": 10})
    ((3, 3), (1, 11))
    """
    TARGETS.get(name)
    options = options or {}
    if name == "semantic" and options.get("num_classes") is None:
        raise ValueError("target_channels: the semantic target needs `num_classes` to size the network output")
    n_target = _target_count(name, options, ndim)
    if name == "quantized_edt":
        return n_target, int(options.get("levels", 10)) + 1
    if name == "semantic":
        return n_target, int(options["num_classes"])
    return n_target, n_target


def _target_count(name: str, options: Mapping[str, Any], ndim: int) -> int:
    """The number of channels the target function `name` returns with `options` for `ndim`-D labels."""
    from pytc.kernels import DEFAULT_OFFSETS

    if name == "affinity":
        return len(options.get("offsets") or DEFAULT_OFFSETS[ndim])
    if name == "polarity":
        return 3
    if name == "semantic" and options.get("one_hot"):
        return int(options["num_classes"])
    return 1


def spec_channels(specs: TargetSpecs, ndim: int = 3) -> list[tuple[str, int, int]]:
    """The channel range (name, start, stop) of each spec, as `build_targets` stacks them for `ndim`-D labels
    (without building any target).

    >>> spec_channels(["affinity", {"name": "binary", "weight": "ratio"}])
    [('affinity', 0, 3), ('binary', 3, 4)]
    """
    channels, start = [], 0
    for name, opts, _, _ in _parse_all(specs):
        stop = start + _target_count(name, opts, ndim)
        channels.append((name, start, stop))
        start = stop
    return channels


_WEIGHTS = (None, "ratio", "unet")


def _parse(spec: TargetSpec) -> tuple[str, dict, str | None, dict]:
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise fail("build_targets", "specs", "target names or dicts with a 'name'", repr(spec), TypeError)
    opts = dict(spec)
    name = opts.pop("name")
    function = TARGETS.get(name)
    weight = opts.pop("weight", None)
    if weight not in _WEIGHTS:
        raise fail("build_targets", "weight", f"one of {_WEIGHTS} (target {name!r})", repr(weight))
    wopts = {k: opts.pop(k) for k in ("alpha", "w0", "sigma") if k in opts}
    allowed = {"ratio": {"alpha"}, "unet": {"w0", "sigma"}}.get(weight, set())
    if set(wopts) - allowed:
        raise ValueError(
            f"build_targets: target {name!r}: options {sorted(set(wopts) - allowed)} do not apply to weight={weight!r}"
        )
    params = set(inspect.signature(function).parameters) - {"label"}
    bad = sorted(set(opts) - params)
    if bad:
        raise ValueError(f"build_targets: target {name!r}: unknown options {bad}; known: {sorted(params)}")
    return name, opts, weight, wopts


def _parse_all(specs: TargetSpecs) -> list[tuple[str, dict, str | None, dict]]:
    if isinstance(specs, (str, Mapping)):
        specs = [specs]
    parsed = [_parse(s) for s in specs]
    if not parsed:
        raise fail("build_targets", "specs", "at least one target spec", "an empty list")
    return parsed


def build_targets(
    label: np.ndarray, specs: TargetSpecs, valid_mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, int, int]]]:
    """Several targets stacked along channels, with weights and channel ranges.

    Parameters
    ----------
    label : ndarray, (Z, Y, X) or (Y, X), integer; not modified
    specs : list of str or dict
        Each a target name from :data:`TARGETS` or ``{"name": ..., **options}``; options are the
        target function's keywords plus ``weight`` (None: 1 everywhere, 'ratio':
        :func:`weight_binary_ratio` with optional ``alpha``, 'unet': :func:`weight_unet` with
        optional ``w0``, ``sigma``).
    valid_mask : ndarray, label's shape, optional
        Multiplied into every weight channel (0 = ignore). Affinity channels get :func:`affinity_mask`: an edge
        is valid only where both of its ends are, so the border of a labelled region teaches no false boundary.

    Returns
    -------
    target : float32 (C, Z, Y, X) (or (C, Y, X))
    weight : float32, same shape
    channels : list of (name, start, stop)
        Channel range of each task, in spec order.

    Examples
    --------
    >>> lab = np.zeros((2, 4, 4), np.uint32); lab[:, :2] = 1; lab[:, 2:] = 2
    >>> t, w, ch = build_targets(lab, ["affinity", {"name": "binary", "weight": "ratio"}])
    >>> t.shape, ch
    ((4, 2, 4, 4), [('affinity', 0, 3), ('binary', 3, 4)])
    """
    label = _labels(label, "build_targets")
    parsed = _parse_all(specs)
    if valid_mask is not None:
        valid_mask = np.asarray(valid_mask)
        if valid_mask.shape != label.shape:
            raise fail(
                "build_targets", "valid_mask", f"of the label's shape {label.shape}", f"shape {valid_mask.shape}"
            )
        valid_mask = valid_mask.astype(np.float32)
    targets, weights, channels, start = [], [], [], 0
    for name, opts, weight, wopts in parsed:
        t = TARGETS.get(name)(label, **opts)
        mask = None
        if valid_mask is not None:
            mask = affinity_mask(valid_mask, opts.get("offsets")) if name == "affinity" else valid_mask
            mask = np.broadcast_to(mask, t.shape)
        if weight == "ratio":
            w = weight_binary_ratio(t, mask, **wopts)
        elif weight == "unet":
            w = np.broadcast_to(weight_unet(label, **wopts), t.shape).astype(np.float32)
        else:
            w = np.ones(t.shape, np.float32)
        if mask is not None:
            w = w * mask
        targets.append(t)
        weights.append(w.astype(np.float32, copy=False))
        channels.append((name, start, start + t.shape[0]))
        start += t.shape[0]
    return (
        np.ascontiguousarray(np.concatenate(targets), dtype=np.float32),
        np.ascontiguousarray(np.concatenate(weights), dtype=np.float32),
        channels,
    )
