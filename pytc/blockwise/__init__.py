"""Segmenting volumes of any size block by block on Dask, with the whole-volume kernels' result.

`segment_blockwise` (watershed and agglomeration of affinities), `components_blockwise` (connected components of a
binary or probability volume) and `evaluate_blockwise` (adapted Rand error and VOI from contingency tables summed over
blocks) read zarr or HDF5 volumes and run one Dask task per block, on a `LocalCluster` or any cluster given by its
scheduler's address. `python -m pytc.segment` runs them from the command line.
"""

from .agglomerate import segment_blockwise, segmentation_name
from .cluster import dask_client
from .components import components_blockwise
from .evaluate import evaluate_blockwise
from .grid import Block, BlockGrid

__all__ = [
    "Block",
    "BlockGrid",
    "components_blockwise",
    "dask_client",
    "evaluate_blockwise",
    "segment_blockwise",
    "segmentation_name",
]
