"""Merge histories of agglomeration: replaying them on the fragments and the two sides of each merge.

A history is ``merges`` (M, 2) of fragment labels in merge order: merge i joined the region
labelled ``merges[i, 1]`` to the region labelled ``merges[i, 0]``, and the joined region keeps the
label ``merges[i, 0]`` (a region is labelled by one of its fragments, its representative). This is
what `pytc.kernels.agglomerate_history` and its reference return.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _as_merges(merges, fn):
    merges = np.asarray(merges)
    if merges.ndim != 2 or merges.shape[1] != 2 or not (merges.size == 0 or np.issubdtype(merges.dtype, np.integer)):
        raise ValueError(f"{fn}: `merges` must be an (M, 2) integer array; got shape {merges.shape}, {merges.dtype}")
    return merges.astype(np.uint64, copy=False)


def _count(merges, count, fn):
    if count is None:
        return len(merges)
    if not 0 <= count <= len(merges):
        raise ValueError(f"{fn}: `count` must be in [0, {len(merges)}]; got {count!r}")
    return int(count)


def merge_representatives(merges: ArrayLike, count: int | None = None) -> dict[int, int]:
    """Label of the region of every fragment label named in the history after its first `count` merges.

    Labels the history does not name are their own region (and left out).
    """
    fn = "merge_representatives"
    merges = _as_merges(merges, fn)
    parent: dict[int, int] = {}

    def find(a):
        root = a
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(a, a) != root:  # path compression
            parent[a], a = root, parent[a]
        return root

    for into, gone in merges[: _count(merges, count, fn)].tolist():
        parent.setdefault(into, into)
        parent.setdefault(gone, gone)
        parent[find(gone)] = find(into)
    return {label: find(label) for label in parent}


def replay_merges(fragments: ArrayLike, merges: ArrayLike, count: int | None = None) -> np.ndarray:
    """The segmentation after the first `count` merges (all by default): uint64, background 0 kept.

    Replaying the whole history of `agglomerate_history` on its fragments gives its segmentation.
    """
    fn = "replay_merges"
    fragments = np.asarray(fragments)
    merges = _as_merges(merges, fn)
    roots = merge_representatives(merges, _count(merges, count, fn))
    out = fragments.astype(np.uint64)
    if roots:
        keys = np.fromiter(roots.keys(), np.uint64, len(roots))
        values = np.fromiter(roots.values(), np.uint64, len(roots))
        order = np.argsort(keys)
        keys, values = keys[order], values[order]
        at = np.clip(np.searchsorted(keys, out), 0, len(keys) - 1)
        found = keys[at] == out
        out[found] = values[at[found]]
    return out


def merge_sides(merges: ArrayLike, fragment_labels: ArrayLike) -> list[tuple[frozenset[int], frozenset[int]]]:
    """The two sides of every merge as sets of fragment labels: (side kept, side joined), in merge order.

    `fragment_labels` are all the (nonzero) labels of the fragments: each starts as its own region.
    O(M * region size): for tests and small histories.
    """
    fn = "merge_sides"
    merges = _as_merges(merges, fn)
    members = {int(label): frozenset([int(label)]) for label in np.asarray(fragment_labels).ravel().tolist()}
    sides = []
    for into, gone in merges.tolist():
        if into not in members or gone not in members or into == gone:
            raise ValueError(f"{fn}: merge {len(sides)} ({into}, {gone}) does not join two current regions")
        sides.append((members[into], members[gone]))
        members[into] = members[into] | members.pop(gone)
    return sides
