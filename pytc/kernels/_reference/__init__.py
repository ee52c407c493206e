"""Plain numpy/scipy references for the compiled kernels: written for clarity, not speed.

One module per kernel family. Tests compare each fast kernel with its reference; benchmarks
time both.
"""

from .affinity import seg_to_affinity_ref
from .agglomerate import agglomerate_history_ref, agglomerate_ref, region_graph_ref
from .metrics import adapted_rand_ref, contingency_table_ref, voi_ref
from .mutex_watershed import mutex_watershed_ref
from .watershed import watershed_ref

__all__ = [
    "adapted_rand_ref",
    "agglomerate_history_ref",
    "agglomerate_ref",
    "contingency_table_ref",
    "mutex_watershed_ref",
    "region_graph_ref",
    "seg_to_affinity_ref",
    "voi_ref",
    "watershed_ref",
]
