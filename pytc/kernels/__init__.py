"""Fast numpy kernels for connectomics (compiled C++; never imports torch).

If the compiled extension is missing or broken, importing this package raises
an `ExtensionError` (an ImportError and a RuntimeError) that says what to do.
"""

from ._affinity import seg_to_affinity
from ._agglomerate import AgglomerationHistory, agglomerate, agglomerate_history, iter_agglomerate
from ._contingency import contingency_table
from ._merge_history import merge_representatives, merge_sides, replay_merges
from ._mutex_watershed import mutex_watershed
from ._offsets import DEFAULT_OFFSETS, LONG_RANGE_OFFSETS
from ._reference import (
    adapted_rand_ref,
    agglomerate_history_ref,
    agglomerate_ref,
    contingency_table_ref,
    mutex_watershed_ref,
    region_graph_ref,
    seg_to_affinity_ref,
    voi_ref,
    watershed_ref,
)
from ._region_graph import RegionGraph, agglomerate_graph, block_region_graph, merge_region_graphs
from ._watershed import watershed

__all__ = [
    "DEFAULT_OFFSETS",
    "LONG_RANGE_OFFSETS",
    "AgglomerationHistory",
    "RegionGraph",
    "adapted_rand_ref",
    "agglomerate",
    "agglomerate_graph",
    "agglomerate_history",
    "agglomerate_history_ref",
    "agglomerate_ref",
    "block_region_graph",
    "contingency_table",
    "contingency_table_ref",
    "iter_agglomerate",
    "merge_region_graphs",
    "merge_representatives",
    "merge_sides",
    "mutex_watershed",
    "mutex_watershed_ref",
    "region_graph_ref",
    "replay_merges",
    "seg_to_affinity",
    "seg_to_affinity_ref",
    "voi_ref",
    "watershed",
    "watershed_ref",
]


def max_threads():
    """Threads a kernel uses when `threads` is None (1 in a build without OpenMP)."""
    from ._affinity import _ext

    return _ext.max_threads()
