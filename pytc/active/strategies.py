"""Which candidate patches to annotate next: selection strategies over scored candidates.

  random       uniformly at random (the baseline every strategy must beat);
  uncertainty  the highest aggregated uncertainty;
  coreset      k-center greedy on the model's encoder features (Sener and Savarese 2018): each pick is the
               candidate farthest from everything labelled or picked so far;
  diversity    k-center greedy among the `pool_factor` x budget most uncertain candidates: uncertain, and not
               all alike;
  two_stream   the PyTorch Connectomics v1 baseline: two feature streams (image and prediction patches; their
               VAE replaced here by PCA) clustered by two-level k-means, the patch nearest each centre.

Every strategy skips candidates that overlap a patch already labelled or picked.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..registry import Registry
from ..validation import check_number, fail
from .patches import overlaps

STRATEGIES = Registry("selection strategy")


def _free(starts, taken, patch):
    """Mask of candidates that overlap none of the `taken` patches."""
    if taken is None or len(taken) == 0:
        return np.ones(len(starts), bool)
    return ~overlaps(starts, taken, patch).any(1)


def _greedy(order, starts, patch, budget, taken):
    """The first `budget` candidates of `order` that overlap nothing labelled or picked before them."""
    picked = []
    blocked = ~_free(starts, taken, patch)
    for i in order:
        if blocked[i]:
            continue
        picked.append(i)
        blocked |= overlaps(starts, starts[i : i + 1], patch)[:, 0]
        if len(picked) == budget:
            break
    return np.array(picked, np.int64)


def _k_center(features, candidates, budget, centres, starts, patch, taken):
    """k-center greedy over `candidates` (indices into `features`), from the `centres` feature rows already
    covered (labelled); without any, from the first candidate."""
    features = np.asarray(features, np.float64)
    candidates = [i for i in candidates if _free(starts[i : i + 1], taken, patch)[0]]
    if not candidates:
        return np.zeros(0, np.int64)
    pool = features[candidates]
    if centres is not None and len(centres):
        distance = ((pool[:, None, :] - np.asarray(centres, np.float64)[None]) ** 2).sum(-1).min(1)
    else:  # nothing labelled: the first candidate is picked first
        distance = np.full(len(candidates), np.inf)
    picked, blocked = [], np.zeros(len(candidates), bool)
    while len(picked) < budget:
        gap = np.where(blocked, -1.0, distance)
        best = int(np.argmax(gap))
        if gap[best] < 0:
            break
        picked.append(candidates[best])
        blocked |= overlaps(starts[candidates], starts[candidates[best] : candidates[best] + 1], patch)[:, 0]
        distance = np.minimum(distance, ((pool - pool[best]) ** 2).sum(-1))
    return np.array(picked, np.int64)


@STRATEGIES.register("random")
def select_random(starts, scores, budget, patch, *, rng, taken=None, **_):
    return _greedy(rng.permutation(len(starts)), starts, patch, budget, taken)


@STRATEGIES.register("uncertainty")
def select_uncertainty(starts, scores, budget, patch, *, taken=None, **_):
    return _greedy(np.argsort(-np.asarray(scores), kind="stable"), starts, patch, budget, taken)


@STRATEGIES.register("coreset")
def select_coreset(starts, scores, budget, patch, *, features, labelled_features=None, taken=None, **_):
    order = np.argsort(-np.asarray(scores), kind="stable")  # without labels, start from the most uncertain
    return _k_center(features, order, budget, labelled_features, starts, patch, taken)


@STRATEGIES.register("diversity")
def select_diversity(
    starts, scores, budget, patch, *, features, labelled_features=None, taken=None, pool_factor=4, **_
):
    order = [i for i in np.argsort(-np.asarray(scores), kind="stable") if _free(starts[i : i + 1], taken, patch)[0]]
    size = pool_factor * budget
    while True:  # overlapping candidates can leave fewer than `budget` disjoint ones among the top: widen
        picked = _k_center(features, order[:size], budget, labelled_features, starts, patch, taken)
        if len(picked) == budget or size >= len(order):
            return picked
        size *= 2


def _pca(x, dims):
    x = np.asarray(x, np.float64)
    x = x - x.mean(0)
    scale = x.std(0)
    x = x / np.where(scale > 0, scale, 1)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:dims].T


@STRATEGIES.register("two_stream")
def select_two_stream(starts, scores, budget, patch, *, rng, streams, taken=None, **_):
    """Level 1: k-means of the image stream into about sqrt(budget) clusters; level 2: within each, k-means
    of the prediction stream into the cluster's share of the budget; the free candidate nearest each level-2
    centre is picked."""
    from scipy.cluster.vq import kmeans2

    image_stream, prediction_stream = (_pca(s, 8) for s in streams)
    free = np.flatnonzero(_free(starts, taken, patch))
    if len(free) <= budget:
        return _greedy(free, starts, patch, budget, taken)
    seed = int(rng.integers(2**31))
    outer = max(1, min(len(free), round(np.sqrt(budget))))
    _, group = kmeans2(image_stream[free], outer, minit="++", seed=seed)
    sizes = np.bincount(group, minlength=outer)
    shares = np.floor(budget * sizes / sizes.sum()).astype(int)
    for k in np.argsort(-sizes)[: budget - shares.sum()]:
        shares[k] += 1
    picked = []
    for k in range(outer):
        members = free[group == k]
        if shares[k] == 0 or len(members) == 0:
            continue
        inner = min(shares[k], len(members))
        centres, _ = kmeans2(prediction_stream[members], inner, minit="++", seed=seed + k + 1)
        for centre in centres:
            distance = ((prediction_stream[members] - centre) ** 2).sum(-1)
            for i in members[np.argsort(distance)]:
                if i not in picked and not overlaps(starts[picked], starts[i : i + 1], patch).any():
                    picked.append(i)
                    break
    is_free = set(free.tolist())
    rest = [i for i in np.argsort(-np.asarray(scores)) if i in is_free and i not in picked]
    order = np.array(picked + rest, np.int64)  # fill a short pick with the most uncertain
    return _greedy(order, starts, patch, budget, taken)


def select_patches(
    strategy: str,
    starts: np.ndarray,
    scores: np.ndarray,
    budget: int,
    patch,
    *,
    seed: int = 0,
    **inputs,
) -> np.ndarray:
    """Indices into `starts` of the `budget` candidates that `strategy` picks, in pick order.

    `inputs` by strategy: coreset and diversity need `features` (N, D) (and `labelled_features` of the patches
    already labelled, if any); two_stream needs `streams` (image features, prediction features); all take
    `taken`, the (M, 3) starts of patches already labelled, which picks must not overlap.
    """
    choose: Callable = STRATEGIES.get(strategy)
    check_number(budget, "select_patches", "budget", low=1, integer=True)
    starts = np.asarray(starts, np.int64).reshape(-1, 3)
    if len(scores) != len(starts):
        raise fail("select_patches", "scores", f"one per candidate ({len(starts)})", len(scores))
    for name in {"coreset": ["features"], "diversity": ["features"], "two_stream": ["streams"]}.get(strategy, []):
        if inputs.get(name) is None:
            raise fail("select_patches", name, f"given for strategy {strategy!r}", None)
    return choose(starts, np.asarray(scores), budget, tuple(patch), rng=np.random.default_rng(seed), **inputs)
