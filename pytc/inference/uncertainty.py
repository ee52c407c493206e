"""Per-voxel uncertainty of a prediction: the entropy of the mean over test-time variants (the variance
across variants comes from `pytc.inference.predict` itself)."""

import numpy as np

_EPS = 1e-7


def probability_tasks(activations):
    """How many tasks of (start, stop, name) `activations` output probabilities (sigmoid or softmax)."""
    return (
        0
        if activations is None or callable(activations)
        else sum(name in ("sigmoid", "softmax") for _, _, name in activations)
    )


def entropy(mean, activations):
    """Entropy of the mean prediction, one channel per task with probabilities, in nats.

    Parameters
    ----------
    mean : ndarray (C, Z, Y, X) float32
        Activated outputs (probabilities).
    activations : list of (start, stop, name)
        Tasks: 'sigmoid' tasks give the mean over their channels of the binary entropy
        ``-p log p - (1 - p) log(1 - p)`` (at most log 2); 'softmax' tasks the entropy ``-sum p_k log p_k`` over
        their channels (at most log K); other tasks (tanh, none) give no channel.

    Returns
    -------
    ndarray (T, Z, Y, X) float32, T the number of sigmoid and softmax tasks.
    """
    if activations is None or callable(activations):
        raise ValueError("entropy: `activations` must list the tasks as (start, stop, name)")
    channels = []
    for start, stop, name in activations:
        p = np.clip(mean[start:stop].astype(np.float64), _EPS, 1 - _EPS)
        if name == "sigmoid":
            channels.append((-(p * np.log(p) + (1 - p) * np.log1p(-p))).mean(0))
        elif name == "softmax":
            channels.append(-(p * np.log(p)).sum(0))
    if not channels:
        raise ValueError("entropy: no task has sigmoid or softmax outputs")
    return np.stack(channels).astype(np.float32)
