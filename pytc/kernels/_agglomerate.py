"""Hierarchical agglomeration of fragments on an affinity graph, with waterz's semantics."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .._extension import load
from ..validation import as_affinities, as_label_array, as_threads
from ._agglomerate_scoring import _CODES, VALID_SCORINGS, parse_scoring  # noqa: F401 (re-exported)
from ._memory import empty

_ext = load()


def _as_thresholds(thresholds, fn):
    try:
        values = [float(t) for t in thresholds]
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: `thresholds` must be a sequence of numbers; got {thresholds!r}") from None
    for t in values:
        if not math.isfinite(t):
            raise ValueError(f"{fn}: `thresholds` must be finite; got {thresholds!r}")
    for a, b in itertools.pairwise(values):
        if b < a:
            raise ValueError(
                f"{fn}: `thresholds` must be ascending (they are computed in one merging pass); got "
                f"{thresholds!r}. Pass sorted(thresholds)."
            )
    return values


def _prepare(affinities, thresholds, fragments, scoring, low, high, init_with_max, threads, fn):
    affinities = as_affinities(affinities, fn)
    thresholds = _as_thresholds(thresholds, fn)
    kind, q, init = parse_scoring(scoring, init_with_max, fn)
    threads = as_threads(threads, fn)
    if fragments is None:
        if not low < high:
            raise ValueError(f"{fn}: `low` must be smaller than `high`; got low={low!r}, high={high!r}")
        from ._watershed import watershed

        fragments = watershed(affinities, low=low, high=high)
    else:
        fragments = as_label_array(fragments, fn, "fragments")
        if fragments.shape != affinities.shape[1:]:
            raise ValueError(
                f"{fn}: `fragments` must have the shape of the affinities without the channels, "
                f"{affinities.shape[1:]}; got {fragments.shape}"
            )
        if np.issubdtype(fragments.dtype, np.signedinteger) and fragments.size and fragments.min() < 0:
            raise ValueError(f"{fn}: `fragments` must be >= 0 (0 = background); got min {fragments.min()}")
        fragments = np.ascontiguousarray(fragments)
    return affinities, thresholds, fragments, kind, q, init, threads


def iter_agglomerate(
    affinities: ArrayLike,
    thresholds: Sequence[float],
    *,
    fragments: ArrayLike | None = None,
    scoring: str = "mean",
    low: float = 0.0001,
    high: float = 0.9999,
    init_with_max: bool = True,
    threads: int | None = None,
) -> Iterator[np.ndarray]:
    """Like `agglomerate`, but yields the segmentations one at a time.

    Only one segmentation (plus the region graph) is held at any time, so many thresholds on a
    large volume need no more memory than one. Arguments are checked when this is called, not
    when iteration starts. Each yielded array is new (the caller may keep or modify it). The
    fragments are read again for each segmentation: do not modify them while iterating.

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.kernels._agglomerate import iter_agglomerate
    >>> aff = np.ones((3, 1, 1, 4), dtype=np.float32)
    >>> aff[2, 0, 0, 2] = 0.2   # weak boundary between x=1 and x=2
    >>> frags = np.array([[[1, 2, 3, 4]]], dtype=np.uint64)
    >>> [len(np.unique(s)) for s in iter_agglomerate(aff, [0.5, 0.9], fragments=frags)]
    [2, 1]
    """
    fn = "iter_agglomerate"
    affinities, thresholds, fragments, kind, q, init, threads = _prepare(
        affinities, thresholds, fragments, scoring, low, high, init_with_max, threads, fn
    )
    return _generate(affinities, thresholds, fragments, kind, q, init, threads)


def _generate(affinities, thresholds, fragments, kind, q, init, threads):
    limit = np.float32(thresholds[-1]) if thresholds else -np.inf  # ascending: edges scoring above never merge
    state = _ext.Agglomeration(fragments, affinities, _CODES[kind], q, init, limit, threads)
    for threshold in thresholds:
        state.merge_until(np.float32(threshold))
        out = empty(fragments.shape, np.uint64)
        state.extract(out, threads)
        yield out


def agglomerate(
    affinities: ArrayLike,
    thresholds: Sequence[float],
    *,
    fragments: ArrayLike | None = None,
    scoring: str = "mean",
    low: float = 0.0001,
    high: float = 0.9999,
    init_with_max: bool = True,
    threads: int | None = None,
) -> list[np.ndarray]:
    """Segmentations by hierarchical agglomeration of fragments, one per threshold (waterz semantics).

    Builds the region graph of the fragments (one edge per pair of touching nonzero fragments,
    the affinities across their boundary summarised by a statistic), then repeatedly merges the
    two regions joined by the edge of lowest score ``1 - statistic`` while that score is below the
    threshold, rescoring the edges of merged regions. All thresholds are served by one merging
    pass: the partition is recorded each time the next threshold is reached. With the same
    fragments, affinities, scoring and thresholds the result equals ``waterz.agglomerate``'s up to
    relabelling (and the order in which exactly tied edges merge).

    Parameters
    ----------
    affinities : ndarray, shape (C, Z, Y, X), C >= 3
        float32 in [0, 1] (or uint8, scaled by 1/255). Channels 0, 1, 2 link v with v - (1,0,0),
        v - (0,1,0), v - (0,0,1); further channels are ignored. Values outside [0, 1] and NaN are rejected.
    thresholds : sequence of float
        Ascending (non-decreasing) finite score thresholds. Edges with score < threshold merge.
    fragments : ndarray of int, shape (Z, Y, X), optional
        Initial over-segmentation, 0 = background (never merged). Default: the watershed
        ``pytc.kernels.watershed(affinities, low=low, high=high)``, as waterz does.
        Never modified; copied only if not C-contiguous.
    scoring : str
        Statistic of the boundary affinities, with the waterz scoring function it reproduces:

        ==========================  =================================================================
        ``'mean'``                  ``OneMinus<MeanAffinity<RegionGraphType, ScoreValue>>`` (default)
        ``'max'``                   ``OneMinus<MaxAffinity<RegionGraphType, ScoreValue>>``
        ``'min'``                   ``OneMinus<MinAffinity<RegionGraphType, ScoreValue>>``
        ``'quantile-<q>'``          ``OneMinus<QuantileAffinity<RegionGraphType, q, ScoreValue>>``
                                    (exact: sorted values, index ``q * n // 100``)
        ``'quantile-<q>-histogram'`` ``OneMinus<HistogramQuantileAffinity<RegionGraphType, q,
                                    ScoreValue, 256>>`` (256 bins, value = bin centre)
        ==========================  =================================================================

        The waterz strings themselves are accepted too (whitespace ignored), including an explicit
        trailing ``true``/``false`` InitWithMax argument for the quantiles.
    low, high : float
        Affinity thresholds of the initial watershed; used only when `fragments` is None
        (waterz's ``aff_threshold_low`` / ``aff_threshold_high``).
    init_with_max : bool
        For the quantile scorings: start each edge of the initial region graph from the single
        maximum affinity of its boundary, as waterz's default ``InitWithMax = true`` does; False
        uses all boundary affinities from the start.
    threads : int, optional
        Threads for building the region graph (on slabs of z planes) and writing the
        segmentations; merging is sequential. The result does not depend on it.

    Returns
    -------
    list of ndarray, uint64, shape (Z, Y, X)
        One segmentation per threshold; each region carries the label of one of its fragments,
        background stays 0. See `iter_agglomerate` to hold only one at a time.

    Notes
    -----
    Region graph in one pass over the rows of the fragments, on slabs of z planes in parallel
    (runs of equal labels, their overlaps with the neighbouring rows as the faces, one hash-map
    look-up per run of faces of a fragment pair), merging with an exact priority queue with lazy
    deletion and small-to-large region merging (edges scoring at least the largest threshold are
    never queued), then all segmentations written in one pass over the fragments: O(N + E log E)
    time, O(fragments + edges) memory besides the outputs, plus the value lists of
    ``'quantile-<q>'`` (one float per boundary face unless `init_with_max`). waterz's
    ``discretize_queue`` (approximate bin queue) is not offered: the exact queue is used. Scores
    are float32 as in waterz; the mean is a double sum over the count (waterz keeps a float
    running mean, so scores may differ in the last float bit).

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.kernels._agglomerate import agglomerate
    >>> aff = np.ones((3, 1, 1, 4), dtype=np.float32)
    >>> aff[2, 0, 0, 2] = 0.2   # weak boundary between x=1 and x=2
    >>> frags = np.array([[[1, 2, 3, 4]]], dtype=np.uint64)
    >>> low, high = agglomerate(aff, [0.5, 0.9], fragments=frags)
    >>> low.ravel().tolist(), high.ravel().tolist()   # labels of one fragment per region
    ([2, 2, 3, 3], [3, 3, 3, 3])
    """
    fn = "agglomerate"
    affinities, thresholds, fragments, kind, q, init, threads = _prepare(
        affinities, thresholds, fragments, scoring, low, high, init_with_max, threads, fn
    )
    outs = [empty(fragments.shape, np.uint64) for _ in thresholds]
    # one merging pass, then all segmentations written in one pass over the fragments
    _ext.agglomerate_into(
        fragments, affinities, _CODES[kind], q, init, [np.float32(t) for t in thresholds], outs, threads
    )
    return outs


class AgglomerationHistory(NamedTuple):
    """Result of `agglomerate_history`: the segmentation, its fragments and the merges that made it."""

    segmentation: np.ndarray  # uint64 (Z, Y, X): each region carries the label of one of its fragments
    fragments: np.ndarray  # the fragments merged (given or from the watershed), (Z, Y, X)
    merges: np.ndarray  # uint64 (M, 2): merge i joined region merges[i, 1] to region merges[i, 0]
    scores: np.ndarray  # float32 (M,): the score of each merge (non-decreasing unless rescoring lowered one)


def agglomerate_history(
    affinities: ArrayLike,
    threshold: float,
    *,
    fragments: ArrayLike | None = None,
    scoring: str = "mean",
    low: float = 0.0001,
    high: float = 0.9999,
    init_with_max: bool = True,
    threads: int | None = None,
) -> AgglomerationHistory:
    """The segmentation of `agglomerate` at one threshold, with the fragments and the merge history.

    Arguments as `agglomerate`, with one `threshold`. The history lists the merges in the order
    they happened: merge i joined the region labelled ``merges[i, 1]`` to the region labelled
    ``merges[i, 0]``, at score ``scores[i]``; a region is labelled by one of its fragments, and
    the joined region keeps the label ``merges[i, 0]``. So a merge's two sides, as sets of
    fragments, are the regions of those two labels after the merges before it
    (`pytc.kernels.merge_sides`), and replaying the history on the fragments
    (`pytc.kernels.replay_merges`) gives the segmentation exactly.

    Recording costs one append per merge; `agglomerate` records nothing.

    Examples
    --------
    >>> import numpy as np
    >>> from pytc.kernels import agglomerate_history
    >>> aff = np.ones((3, 1, 1, 4), dtype=np.float32)
    >>> aff[2, 0, 0, 2] = 0.2   # weak boundary between x=1 and x=2
    >>> frags = np.array([[[1, 2, 3, 4]]], dtype=np.uint64)
    >>> result = agglomerate_history(aff, 0.9, fragments=frags)
    >>> result.segmentation.ravel().tolist(), result.merges.tolist(), [round(float(s), 2) for s in result.scores]
    ([3, 3, 3, 3], [[2, 1], [3, 4], [3, 2]], [0.0, 0.0, 0.8])
    """
    fn = "agglomerate_history"
    try:
        threshold = float(threshold)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: `threshold` must be a number; got {threshold!r}") from None
    affinities, thresholds, fragments, kind, q, init, threads = _prepare(
        affinities, [threshold], fragments, scoring, low, high, init_with_max, threads, fn
    )
    state = _ext.Agglomeration(fragments, affinities, _CODES[kind], q, init, np.float32(thresholds[0]), threads)
    state.record_history()
    state.merge_until(np.float32(thresholds[0]))
    segmentation = empty(fragments.shape, np.uint64)
    state.extract(segmentation, threads)
    merges, scores = state.history()
    return AgglomerationHistory(segmentation, fragments, merges, scores)
