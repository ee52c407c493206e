"""Blockwise agglomeration against the whole volume: the graphs of any split into blocks, merged in any order, equal
region_graph_ref, and agglomerate_graph's tables applied equal agglomerate's segmentations exactly (labels too)."""

import itertools

import numpy as np
import pytest
from fuzz_strategies import LABEL_DTYPES, affinity_arrays, label_arrays, shapes, size_event
from hypothesis import given, note
from hypothesis import strategies as st

from pytc.kernels import agglomerate, agglomerate_graph, block_region_graph, merge_region_graphs, region_graph_ref

pytestmark = pytest.mark.fuzz

MAX_SIDE = 8
SCORINGS = (  # (scoring, init_with_max) with a blockwise form
    ("mean", True),
    ("max", True),
    ("min", False),
    ("quantile-0", True),
    ("quantile-75", True),
    ("quantile-50-histogram", True),
    ("quantile-0-histogram", False),
    ("quantile-50-histogram", False),
    ("quantile-100-histogram", False),
)


@st.composite
def cases(draw):
    shape = draw(shapes(3, MAX_SIDE))
    fragments = draw(label_arrays(shape, LABEL_DTYPES, nonnegative=True, name="fragments"))
    affinities = draw(affinity_arrays((draw(st.sampled_from([3, 4])),) + shape))
    block_shape = tuple(draw(st.integers(1, max(side, 1))) for side in shape)
    scoring, init_with_max = draw(st.sampled_from(SCORINGS))
    thresholds = sorted(draw(st.lists(st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0]), max_size=3)))
    note(f"blocks {block_shape}, scoring {scoring!r}, init_with_max {init_with_max}, thresholds {thresholds}")
    return fragments, affinities, block_shape, dict(scoring=scoring, init_with_max=init_with_max), thresholds


def block_graphs(fragments, affinities, block_shape, scoring):
    graphs = []
    for lo in itertools.product(*(range(0, s, b) for s, b in zip(fragments.shape, block_shape))):
        halo = tuple(int(c > 0) for c in lo)
        slices = tuple(slice(c - h, min(c + b, s)) for c, h, b, s in zip(lo, halo, block_shape, fragments.shape))
        origin = tuple(s.start for s in slices)
        block = (fragments[slices], affinities[(slice(None),) + slices])
        graphs.append(block_region_graph(*block, halo=halo, origin=origin, volume_shape=fragments.shape, **scoring))
    return graphs or [block_region_graph(fragments, affinities, **scoring)]  # an empty volume: one empty block


@given(case=cases(), order=st.randoms(use_true_random=False))
def test_region_graph_of_blocks_equals_the_whole_volume(case, order):
    fragments, affinities, block_shape, scoring, thresholds = case
    before = fragments.copy(), affinities.copy()
    size_event(fragments)
    graphs = block_graphs(fragments, affinities, block_shape, scoring)
    order.shuffle(graphs)
    graph = merge_region_graphs(graphs)

    ref_aff = affinities.astype(np.float32) / np.float32(255) if affinities.dtype == np.uint8 else affinities
    expected = region_graph_ref(fragments, ref_aff, **scoring)
    for name in ("labels", "first_voxel", "edges", "first_face"):
        np.testing.assert_array_equal(getattr(graph, name), getattr(expected, name), err_msg=name)
    assert sorted(graph.stats) == sorted(expected.stats)
    for key, value in graph.stats.items():
        if key == "sum":
            np.testing.assert_allclose(value, expected.stats[key], rtol=1e-12, atol=1e-12)
        else:
            np.testing.assert_array_equal(value, expected.stats[key], err_msg=key)

    labels, tables = agglomerate_graph(graph, thresholds, **scoring)
    whole = agglomerate(affinities, thresholds, fragments=fragments, **scoring)
    frag = fragments.astype(np.uint64)
    index = np.where(frag == 0, 0, np.searchsorted(labels, frag))
    for table, seg in zip(tables, whole):
        np.testing.assert_array_equal(np.where(frag == 0, np.uint64(0), table[index] if len(table) else 0), seg)
    np.testing.assert_array_equal(fragments, before[0])
    np.testing.assert_array_equal(affinities, before[1])
