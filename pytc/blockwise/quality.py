"""Checks of a blockwise segmentation against a reference: segments cut at block faces (`face_splits`).

A segment that the reference (e.g. the whole-volume segmentation of the same affinities) keeps whole but a blockwise
run cut at a block face shows as two distinct segments that touch across the face and whose majority reference
segment is the same. Touching pairs with the same majority also occur inside blocks where the segmentation itself
splits a reference segment; `split_pairs(..., where="inside")` counts those across the other planes, for comparison.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from ..validation import fail

WHERE = ("faces", "inside")


def majority_reference(segmentation: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(segment ids, index of each voxel's segment in them, majority reference id of each segment).

    The majority reference id of a segment is the reference id covering most of its voxels, reference 0 ignored
    (the smallest id among ties; 0 when all its voxels are 0 in the reference).
    """
    ids, index = np.unique(segmentation, return_inverse=True)
    index = index.reshape(segmentation.shape)
    ref_ids, ref_index = np.unique(reference, return_inverse=True)
    ref_index = ref_index.reshape(reference.shape)
    labelled = reference != 0
    key = index[labelled].astype(np.int64) * len(ref_ids) + ref_index[labelled]
    keys, counts = np.unique(key, return_counts=True)
    segment, ref = keys // len(ref_ids), keys % len(ref_ids)
    # per segment, the largest count first, then the smallest reference id
    order = np.lexsort((ref, -counts, segment))
    first = np.ones(len(order), dtype=bool)
    first[1:] = segment[order][1:] != segment[order][:-1]
    majority = np.zeros(len(ids), dtype=reference.dtype)
    majority[segment[order][first]] = ref_ids[ref[order][first]]
    return ids, index, majority


def split_pairs(
    segmentation: ArrayLike, reference: ArrayLike, block_shape: Sequence[int], where: str = "faces"
) -> dict[str, int]:
    """Pairs of distinct nonzero segments of `segmentation` that touch across planes between voxels and whose
    majority `reference` segment (see `majority_reference`) is the same nonzero id.

    Parameters
    ----------
    segmentation, reference : ndarray (Z, Y, X)
        Integer labels of the same shape, 0 = background (ignored).
    block_shape : three ints
        The blocks: the planes at multiples of ``block_shape[d]`` along axis d (inside the volume) are its faces.
    where : {"faces", "inside"}
        Count across the block faces, or across every other plane.

    Returns
    -------
    dict
        ``pairs`` (the count) and ``planes`` (how many planes were examined, over all three axes).
    """
    segmentation = np.asarray(segmentation)
    reference = np.asarray(reference)
    if segmentation.ndim != 3 or not np.issubdtype(segmentation.dtype, np.integer):
        raise fail("split_pairs", "segmentation", "a 3D integer array", f"{segmentation.dtype} {segmentation.shape}")
    if reference.shape != segmentation.shape or not np.issubdtype(reference.dtype, np.integer):
        raise fail(
            "split_pairs",
            "reference",
            f"an integer array of shape {segmentation.shape}",
            f"{reference.dtype} {reference.shape}",
        )
    try:
        blocks = tuple(int(b) for b in block_shape)
    except (TypeError, ValueError):
        raise fail("split_pairs", "block_shape", "three integers >= 1", block_shape) from None
    if len(blocks) != 3 or min(blocks) < 1:
        raise fail("split_pairs", "block_shape", "three integers >= 1", block_shape)
    if where not in WHERE:
        raise fail("split_pairs", "where", f"one of {WHERE}", where)
    ids, index, majority = majority_reference(segmentation, reference)
    pairs = []
    planes = 0
    for axis, (size, block) in enumerate(zip(segmentation.shape, blocks)):
        positions = np.arange(1, size)
        positions = positions[(positions % block == 0) == (where == "faces")]
        planes += len(positions)
        if len(positions) == 0:
            continue
        before = np.take(index, positions - 1, axis=axis).ravel()
        after = np.take(index, positions, axis=axis).ravel()
        same = (
            (before != after)
            & (ids[before] != 0)
            & (ids[after] != 0)
            & (majority[before] == majority[after])
            & (majority[before] != 0)
        )
        low, high = np.minimum(before[same], after[same]), np.maximum(before[same], after[same])
        pairs.append(low.astype(np.int64) * len(ids) + high)
    count = len(np.unique(np.concatenate(pairs))) if pairs else 0
    return {"pairs": count, "planes": planes}


def face_splits(segmentation: ArrayLike, reference: ArrayLike, block_shape: Sequence[int]) -> int:
    """The number of segment pairs that touch across a block face and share their majority reference segment: the
    segments the reference keeps whole that a blockwise segmentation cut at a face (see `split_pairs`).

    Examples
    --------
    >>> import numpy as np
    >>> reference = np.ones((1, 1, 4), dtype=np.uint32)
    >>> face_splits(np.array([[[1, 1, 2, 2]]]), reference, (1, 1, 2))  # cut at the face x = 2
    1
    >>> face_splits(np.array([[[1, 2, 2, 2]]]), reference, (1, 1, 2))  # cut inside a block
    0
    """
    return split_pairs(segmentation, reference, block_shape, "faces")["pairs"]
