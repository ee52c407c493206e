"""Blockwise agglomeration: block_region_graph, merge_region_graphs and agglomerate_graph against region_graph_ref,
agglomerate and agglomerate_ref."""

import itertools

import numpy as np
import pytest

from pytc.decode import boundary_to_affinity
from pytc.kernels import (
    RegionGraph,
    agglomerate,
    agglomerate_graph,
    agglomerate_ref,
    block_region_graph,
    merge_region_graphs,
    region_graph_ref,
    watershed,
)
from pytc.kernels._reference.agglomerate import TieError
from pytc.kernels._region_graph import NO_VOXEL
from pytc.testing import read_gala

# (scoring, init_with_max): every scoring with a blockwise form, each raw statistic at least once
SCORINGS = [
    ("mean", True),
    ("max", True),
    ("min", True),
    ("quantile-50", True),
    ("quantile-25-histogram", True),
    ("quantile-50-histogram", False),
    ("quantile-90-histogram", False),
]
LABEL_DTYPES = [np.uint8, np.uint16, np.uint32, np.uint64, np.int32, np.int64]
BLOCK_SHAPES = [(2, 3, 4), (1, 5, 3), (4, 1, 2), (3, 3, 1), (5, 7, 6)]


def random_volume(rng, shape=(5, 7, 6), n_labels=8, aff_dtype=np.float32):
    fragments = rng.integers(0, n_labels, size=shape).astype(np.uint64)
    if aff_dtype == np.uint8:
        affinities = rng.integers(0, 256, size=(3,) + shape).astype(np.uint8)
    else:
        affinities = rng.random((3,) + shape).astype(np.float32)
    return fragments, affinities


def block_slices(shape, block_shape):
    """(slices of the block with its low halo, halo, origin) of each block of a split of `shape`."""
    for lo in itertools.product(*(range(0, s, b) for s, b in zip(shape, block_shape))):
        halo = tuple(int(c > 0) for c in lo)
        slices = tuple(slice(c - h, min(c + b, s)) for c, h, b, s in zip(lo, halo, block_shape, shape))
        yield slices, halo, tuple(s.start for s in slices)


def block_graphs(fragments, affinities, block_shape, **scoring):
    return [
        block_region_graph(
            fragments[slices],
            affinities[(slice(None),) + slices],
            halo=halo,
            origin=origin,
            volume_shape=fragments.shape,
            **scoring,
        )
        for slices, halo, origin in block_slices(fragments.shape, block_shape)
    ]


def strided_view(array):
    """`array` as a non-contiguous view into a larger array (every other element along the last two axes)."""
    big = np.zeros(array.shape[:-2] + (2 * array.shape[-2], 2 * array.shape[-1] + 1), array.dtype)
    view = big[..., 1::2, 1::2]
    view[...] = array
    assert not view.flags.c_contiguous and not view.flags.f_contiguous
    return view


def shuffled(graphs, rng):
    return [graphs[i] for i in rng.permutation(len(graphs))]


def canonical(graph):
    """The graph with labels ascending and edges sorted by label pair (histogram rows renumbered to match)."""
    nodes = np.argsort(graph.labels, kind="stable")
    edges = np.lexsort((graph.edges[:, 1], graph.edges[:, 0])) if len(graph.edges) else np.zeros(0, np.int64)
    if "bin_edge" in graph.stats:
        rank = np.empty(len(edges), dtype=np.uint64)
        rank[edges] = np.arange(len(edges), dtype=np.uint64)
        bin_edge = rank[graph.stats["bin_edge"].astype(np.int64)]
        rows = np.lexsort((graph.stats["bin"], bin_edge))
        stats = {
            "bin_edge": bin_edge[rows],
            "bin": graph.stats["bin"][rows],
            "bin_count": graph.stats["bin_count"][rows],
        }
    else:
        stats = {key: value[edges] for key, value in graph.stats.items()}
    return RegionGraph(
        graph.labels[nodes], graph.first_voxel[nodes], graph.edges[edges], graph.first_face[edges], stats
    )


def assert_graphs_equal(got, expected):
    """Equal graphs: everything exact but the mean's double sums (added in another order)."""
    for name in ("labels", "first_voxel", "edges", "first_face"):
        a, b = getattr(got, name), getattr(expected, name)
        assert a.dtype == b.dtype == np.uint64, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert got.edges.shape == (len(got.first_face), 2)
    assert sorted(got.stats) == sorted(expected.stats)
    for key, value in got.stats.items():
        assert value.dtype == expected.stats[key].dtype, key
        if key == "sum":
            np.testing.assert_allclose(value, expected.stats[key], rtol=1e-12, atol=1e-12)
        else:
            np.testing.assert_array_equal(value, expected.stats[key], err_msg=key)


def segmentations(labels, tables, fragments):
    """The tables of agglomerate_graph applied to the fragments."""
    fragments = fragments.astype(np.uint64)
    index = np.searchsorted(labels, fragments)
    index[fragments == 0] = 0
    return [np.where(fragments == 0, np.uint64(0), table[index] if len(table) else 0) for table in tables]


def assert_same_partition(a, b):
    """Equal up to relabelling, with background (0) kept."""
    np.testing.assert_array_equal(a == 0, b == 0)
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    assert len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


# --- the region graph: blocks merged == the reference of the whole volume -------------------------------------------


def test_reference_counts_every_face_once(rng):
    """The reference itself on a volume small enough to check by hand: fragments [1 2; 0 2] and [3 3; 2 1]."""
    fragments = np.array([[[1, 2], [0, 2]], [[3, 3], [2, 1]]], dtype=np.uint32)
    affinities = np.arange(24, dtype=np.float32).reshape(3, 2, 2, 2) / np.float32(24)
    graph = region_graph_ref(fragments, affinities)
    np.testing.assert_array_equal(graph.labels, [1, 2, 3])
    np.testing.assert_array_equal(graph.first_voxel, [0, 1, 4])
    # faces (v, d): 1-2 at ((0,0,1), x), ((1,1,1), x) and ((1,1,1), z: 1 vs 2 at (0,1,1)); 2-3 at ((1,0,1), z),
    # ((1,1,0), y); 1-3 at ((1,0,0), z), ((1,1,1), y)
    np.testing.assert_array_equal(graph.edges, [[1, 2], [1, 3], [2, 3]])
    key = lambda z, y, x, d: ((z * 2 + y) * 3 + d) * 2 + x  # noqa: E731
    np.testing.assert_array_equal(graph.first_face, [key(0, 0, 1, 2), key(1, 0, 0, 0), key(1, 0, 1, 0)])
    aff = lambda d, z, y, x: float(affinities[d, z, y, x])  # noqa: E731
    expected_sums = [
        aff(2, 0, 0, 1) + aff(2, 1, 1, 1) + aff(0, 1, 1, 1),
        aff(0, 1, 0, 0) + aff(1, 1, 1, 1),
        aff(0, 1, 0, 1) + aff(1, 1, 1, 0),
    ]
    np.testing.assert_allclose(graph.stats["sum"], expected_sums)
    np.testing.assert_array_equal(graph.stats["count"], [3, 2, 2])
    minima = [min(aff(2, 0, 0, 1), aff(2, 1, 1, 1), aff(0, 1, 1, 1)), aff(0, 1, 0, 0), aff(0, 1, 0, 1)]
    np.testing.assert_array_equal(region_graph_ref(fragments, affinities, scoring="min").stats["min"], minima)


@pytest.mark.parametrize("scoring,init_with_max", SCORINGS)
@pytest.mark.parametrize("aff_dtype", [np.float32, np.uint8])
def test_merged_blocks_equal_the_reference(rng, scoring, init_with_max, aff_dtype):
    for shape in [(5, 7, 6), (3, 4, 9)]:
        fragments, affinities = random_volume(rng, shape, aff_dtype=aff_dtype)
        expected = region_graph_ref(fragments, affinities, scoring=scoring, init_with_max=init_with_max)
        assert len(expected.edges) > 10
        for block_shape in BLOCK_SHAPES:
            graphs = block_graphs(fragments, affinities, block_shape, scoring=scoring, init_with_max=init_with_max)
            assert_graphs_equal(merge_region_graphs(shuffled(graphs, rng)), expected)


@pytest.mark.parametrize("dtype", LABEL_DTYPES)
def test_label_dtypes_and_layouts(rng, dtype):
    fragments, affinities = random_volume(rng, (6, 5, 7))
    fragments = (fragments * 13).astype(dtype)  # labels up to 91 in every dtype
    for scoring, init_with_max in [("mean", True), ("quantile-50-histogram", False)]:
        expected = region_graph_ref(fragments, affinities, scoring=scoring, init_with_max=init_with_max)
        layouts = [
            (fragments, affinities),
            (np.asfortranarray(fragments), np.asfortranarray(affinities)),
            (strided_view(fragments), strided_view(affinities)),
            (fragments, np.concatenate([affinities, affinities[:2]])),  # extra channels are ignored
        ]
        for frag, aff in layouts:
            for block_shape in [(2, 2, 3), (6, 5, 7)]:
                graphs = block_graphs(frag, aff, block_shape, scoring=scoring, init_with_max=init_with_max)
                assert_graphs_equal(merge_region_graphs(shuffled(graphs, rng)), expected)


def test_whole_volume_graph_is_its_own_merge(rng):
    fragments, affinities = random_volume(rng)
    for scoring, init_with_max in SCORINGS:
        one = block_region_graph(fragments, affinities, scoring=scoring, init_with_max=init_with_max)
        merged = merge_region_graphs([one])
        assert_graphs_equal(canonical(one), merged)
        assert_graphs_equal(merge_region_graphs([merged]), merged)
        assert_graphs_equal(
            merged, region_graph_ref(fragments, affinities, scoring=scoring, init_with_max=init_with_max)
        )
        # one block's graph lists fragments and edges in order of first appearance
        assert np.all(np.diff(one.first_voxel.astype(np.float64)) > 0)
        assert np.all(np.diff(one.first_face.astype(np.float64)) > 0)


def test_merge_does_not_depend_on_the_order(rng):
    fragments, affinities = random_volume(rng, (6, 6, 6))
    for scoring, init_with_max in SCORINGS:
        graphs = block_graphs(fragments, affinities, (2, 3, 2), scoring=scoring, init_with_max=init_with_max)
        first = merge_region_graphs(graphs)
        for _ in range(3):
            assert_graphs_equal(merge_region_graphs(shuffled(graphs, rng)), first)
        # merging in groups, then the groups' graphs, is the same
        halves = [merge_region_graphs(graphs[: len(graphs) // 2]), merge_region_graphs(graphs[len(graphs) // 2 :])]
        assert_graphs_equal(merge_region_graphs(halves[::-1]), first)


# --- agglomeration of the merged graph == agglomerate of the volume ------------------------------------------------


@pytest.mark.parametrize("scoring,init_with_max", SCORINGS)
def test_agglomerate_graph_equals_agglomerate(rng, scoring, init_with_max):
    thresholds = [0.0, 0.02, 0.1, 0.3, 0.5, 0.7, 0.9]
    for aff_dtype, shape in [(np.float32, (8, 9, 10)), (np.uint8, (6, 11, 7))]:
        fragments, affinities = random_volume(rng, shape, n_labels=30, aff_dtype=aff_dtype)
        whole = agglomerate(affinities, thresholds, fragments=fragments, scoring=scoring, init_with_max=init_with_max)
        assert len(np.unique(whole[0])) > len(np.unique(whole[-1]))  # the thresholds merge
        for block_shape in [(3, 4, 5), (1, 9, 4), (8, 9, 10)]:
            graphs = block_graphs(fragments, affinities, block_shape, scoring=scoring, init_with_max=init_with_max)
            graph = merge_region_graphs(shuffled(graphs, rng))
            labels, tables = agglomerate_graph(graph, thresholds, scoring=scoring, init_with_max=init_with_max)
            np.testing.assert_array_equal(labels, graph.labels)
            assert len(tables) == len(thresholds) and all(t.dtype == np.uint64 for t in tables)
            for got, expected in zip(segmentations(labels, tables, fragments), whole):
                np.testing.assert_array_equal(got, expected)  # labels too


def test_agglomerate_graph_of_one_unmerged_block(rng):
    """A single block's graph (fragments and edges in order of first appearance, not sorted) agglomerates alike."""
    fragments, affinities = random_volume(rng, (6, 7, 8), n_labels=20)
    thresholds = [0.3, 0.6]
    whole = agglomerate(affinities, thresholds, fragments=fragments)
    labels, tables = agglomerate_graph(block_region_graph(fragments, affinities), thresholds)
    for got, expected in zip(segmentations(np.sort(labels), [t[np.argsort(labels)] for t in tables], fragments), whole):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("scoring,init_with_max", SCORINGS)
def test_agglomerate_graph_matches_the_reference(rng, scoring, init_with_max):
    compared = 0
    for _ in range(10):
        shape = tuple(int(s) for s in rng.integers(1, 6, size=3))
        fragments, affinities = random_volume(rng, shape, n_labels=10)
        thresholds = sorted(rng.random(3).tolist())
        try:
            expected = agglomerate_ref(
                affinities, thresholds, fragments=fragments, scoring=scoring, init_with_max=init_with_max, strict=True
            )
        except TieError:
            continue  # exactly tied edges may merge in another order
        block_shape = tuple(int(b) for b in rng.integers(1, 4, size=3))
        graphs = block_graphs(fragments, affinities, block_shape, scoring=scoring, init_with_max=init_with_max)
        labels, tables = agglomerate_graph(
            merge_region_graphs(shuffled(graphs, rng)), thresholds, scoring=scoring, init_with_max=init_with_max
        )
        for got, ref in zip(segmentations(labels, tables, fragments), expected):
            assert_same_partition(got, ref)
        compared += 1
    assert compared >= 3


# --- real data -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gala_fragments():
    p = read_gala("test-p1")
    affinities = boundary_to_affinity(p.astype(np.float32) / np.float32(255 if p.dtype == np.uint8 else 1))
    return watershed(affinities), affinities


@pytest.mark.real_data
def test_real_gala_blocks_equal_the_reference(gala_fragments):
    fragments, affinities = gala_fragments
    crop = (slice(0, 16), slice(0, 100), slice(0, 100))  # the reference is plain Python: a crop
    fragments, affinities = fragments[crop], affinities[(slice(None),) + crop]
    rng = np.random.default_rng(5)
    for scoring, init_with_max in [("mean", True), ("max", True), ("min", True), ("quantile-50-histogram", False)]:
        expected = region_graph_ref(fragments, affinities, scoring=scoring, init_with_max=init_with_max)
        assert len(expected.edges) > 300
        graphs = block_graphs(fragments, affinities, (5, 30, 40), scoring=scoring, init_with_max=init_with_max)
        assert_graphs_equal(merge_region_graphs(shuffled(graphs, rng)), expected)


@pytest.mark.real_data
@pytest.mark.parametrize("scoring,init_with_max", SCORINGS)
def test_real_gala_agglomerate_graph_equals_agglomerate(gala_fragments, scoring, init_with_max):
    fragments, affinities = gala_fragments
    thresholds = [0.2, 0.5, 0.8]
    whole = agglomerate(affinities, thresholds, fragments=fragments, scoring=scoring, init_with_max=init_with_max)
    graphs = block_graphs(fragments, affinities, (16, 40, 64), scoring=scoring, init_with_max=init_with_max)
    labels, tables = agglomerate_graph(
        merge_region_graphs(graphs[::-1]), thresholds, scoring=scoring, init_with_max=init_with_max
    )
    for got, expected in zip(segmentations(labels, tables, fragments), whole):
        np.testing.assert_array_equal(got, expected)
    assert len(np.unique(whole[-1])) < len(np.unique(fragments))


# --- edge cases ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(0, 4, 4), (3, 0, 2), (2, 3, 0)])
def test_empty_volume(shape):
    fragments = np.zeros(shape, np.uint32)
    affinities = np.zeros((3,) + shape, np.float32)
    for scoring, init_with_max in SCORINGS:
        graph = merge_region_graphs(
            [block_region_graph(fragments, affinities, scoring=scoring, init_with_max=init_with_max)]
        )
        assert_graphs_equal(
            graph, region_graph_ref(fragments, affinities, scoring=scoring, init_with_max=init_with_max)
        )
        assert graph.labels.shape == (0,) and graph.edges.shape == (0, 2)
        labels, tables = agglomerate_graph(graph, [0.5, 1.0], scoring=scoring, init_with_max=init_with_max)
        assert labels.shape == (0,) and [t.shape for t in tables] == [(0,), (0,)]


def test_all_background_and_a_single_fragment(rng):
    affinities = rng.random((3, 4, 5, 6)).astype(np.float32)
    for fragments, n_labels in [(np.zeros((4, 5, 6), np.uint16), 0), (np.full((4, 5, 6), 9, np.uint16), 1)]:
        for scoring, init_with_max in SCORINGS:
            graphs = block_graphs(fragments, affinities, (2, 2, 4), scoring=scoring, init_with_max=init_with_max)
            graph = merge_region_graphs(shuffled(graphs, rng))
            assert_graphs_equal(
                graph, region_graph_ref(fragments, affinities, scoring=scoring, init_with_max=init_with_max)
            )
            assert len(graph.labels) == n_labels and len(graph.edges) == 0
            labels, tables = agglomerate_graph(graph, [1.0], scoring=scoring, init_with_max=init_with_max)
            np.testing.assert_array_equal(tables[0], labels)  # nothing to merge
    graph = merge_region_graphs([block_region_graph(np.full((2, 2, 2), 9, np.uint16), affinities[:, :2, :2, :2])])
    np.testing.assert_array_equal(graph.first_voxel, [0])


def test_no_thresholds(rng):
    fragments, affinities = random_volume(rng)
    graph = merge_region_graphs(block_graphs(fragments, affinities, (2, 3, 4)))
    labels, tables = agglomerate_graph(graph, [])
    np.testing.assert_array_equal(labels, graph.labels)
    assert tables == []


def test_labels_near_the_top_of_uint64(rng):
    fragments, affinities = random_volume(rng, (5, 6, 7), n_labels=6)
    top = np.iinfo(np.uint64).max
    huge = np.where(fragments > 0, np.uint64(top - 6) + fragments, np.uint64(0))  # up to 2^64 - 1 - 1
    assert huge.max() == top - 1
    thresholds = [0.3, 0.5, 0.7]
    for scoring, init_with_max in [("mean", True), ("quantile-50-histogram", False)]:
        graph = merge_region_graphs(
            shuffled(block_graphs(huge, affinities, (2, 3, 3), scoring=scoring, init_with_max=init_with_max), rng)
        )
        assert_graphs_equal(graph, region_graph_ref(huge, affinities, scoring=scoring, init_with_max=init_with_max))
        labels, tables = agglomerate_graph(graph, thresholds, scoring=scoring, init_with_max=init_with_max)
        whole = agglomerate(affinities, thresholds, fragments=huge, scoring=scoring, init_with_max=init_with_max)
        for got, expected in zip(segmentations(labels, tables, huge), whole):
            np.testing.assert_array_equal(got, expected)


def test_fragments_seen_only_in_a_halo_are_refused(rng):
    fragments, affinities = random_volume(rng, (4, 5, 6))
    fragments[1] = 77  # in the halo plane of the block [2, 4) along z, and touching it
    block = block_region_graph(
        fragments[1:], affinities[:, 1:], halo=(1, 0, 0), origin=(1, 0, 0), volume_shape=(4, 5, 6)
    )
    assert 77 in block.labels.tolist()
    assert block.first_voxel[block.labels.tolist().index(77)] == NO_VOXEL
    with pytest.raises(ValueError, match="some fragments were seen only in halos"):
        agglomerate_graph(block, [0.5])
    with pytest.raises(ValueError, match="some fragments were seen only in halos"):
        agglomerate_graph(merge_region_graphs(block_graphs(fragments, affinities, (2, 5, 6))[1:]), [0.5])
    # with the block that holds them, all is well
    agglomerate_graph(merge_region_graphs(block_graphs(fragments, affinities, (2, 5, 6))), [0.5])


# --- bad input -----------------------------------------------------------------------------------------------------


def test_bad_block_input():
    fragments = np.ones((2, 3, 4), np.uint32)
    affinities = np.ones((3, 2, 3, 4), np.float32)
    volume = dict(origin=(1, 0, 0), volume_shape=(5, 3, 4))
    with pytest.raises(ValueError, match="`halo` must be three integers; got 2"):
        block_region_graph(fragments, affinities, halo=2, **volume)
    with pytest.raises(ValueError, match=r"`halo` must be three integers; got \(1, 0\)"):
        block_region_graph(fragments, affinities, halo=(1, 0), **volume)
    with pytest.raises(ValueError, match=r"`halo` must be three of 0 or 1 .*; got \(1, 0, 2\)"):
        block_region_graph(fragments, affinities, halo=(1, 0, 2), **volume)
    with pytest.raises(ValueError, match=r"`halo` must be three of 0 or 1 .*; got \(-1, 0, 0\)"):
        block_region_graph(fragments, affinities, halo=(-1, 0, 0), **volume)
    with pytest.raises(ValueError, match=r"`halo` must be three integers; got \(0.5, 0, 0\)"):
        block_region_graph(fragments, affinities, halo=(0.5, 0, 0), **volume)
    with pytest.raises(ValueError, match="not at the volume's low border along axis 0 needs its low halo"):
        block_region_graph(fragments, affinities, halo=(0, 0, 0), **volume)
    with pytest.raises(ValueError, match="does not fit in the volume along axis 0"):
        block_region_graph(fragments, affinities, halo=(1, 0, 0), origin=(4, 0, 0), volume_shape=(5, 3, 4))
    with pytest.raises(ValueError, match="does not fit in the volume along axis 1"):
        block_region_graph(fragments, affinities, origin=(0, -1, 0), volume_shape=(5, 3, 4))
    with pytest.raises(ValueError, match="does not fit in the volume along axis 2"):
        block_region_graph(fragments, affinities, origin=(0, 0, 0), volume_shape=(5, 3, 3))
    with pytest.raises(ValueError, match="`origin` must be three integers"):
        block_region_graph(fragments, affinities, origin=(0, 0))
    with pytest.raises(ValueError, match="`volume_shape` must be three integers"):
        block_region_graph(fragments, affinities, volume_shape="abc")
    with pytest.raises(ValueError, match=r"`fragments` must be 3D with the shape of the affinities' voxels"):
        block_region_graph(fragments[:1], affinities)
    with pytest.raises(ValueError, match=r"`fragments` must be 3D with the shape of the affinities' voxels"):
        block_region_graph(fragments[0], affinities)
    with pytest.raises(ValueError, match="`affinities` must have at least 3 channels"):
        block_region_graph(fragments, affinities[:2])
    with pytest.raises(ValueError, match=r"`fragments` must be >= 0 \(0 = background\); got min -1"):
        block_region_graph(-fragments.astype(np.int32), affinities)
    with pytest.raises(TypeError, match="`fragments` must be an integer label array"):
        block_region_graph(fragments.astype(np.float32), affinities)
    with pytest.raises(TypeError, match="`affinities` must be float32 in"):
        block_region_graph(fragments, affinities.astype(np.float64))
    with pytest.raises(ValueError, match=r"`affinities` must be probabilities in \[0, 1\]"):
        block_region_graph(fragments, affinities * 2)
    with pytest.raises(
        ValueError, match="'quantile-50' without init_with_max keeps every boundary value and has no blockwise form"
    ):
        block_region_graph(fragments, affinities, scoring="quantile-50", init_with_max=False)
    with pytest.raises(ValueError, match="`scoring` must be one of"):
        block_region_graph(fragments, affinities, scoring="median")
    with pytest.raises(ValueError, match="region_graph_ref: `scoring` 'quantile-50' without init_with_max"):
        region_graph_ref(fragments, affinities, scoring="quantile-50", init_with_max=False)


def test_bad_merge_and_agglomerate_input(rng):
    fragments, affinities = random_volume(rng, (3, 4, 5))
    mean = block_region_graph(fragments, affinities)
    histogram = block_region_graph(fragments, affinities, scoring="quantile-50-histogram", init_with_max=False)
    maximum = block_region_graph(fragments, affinities, scoring="max")
    with pytest.raises(
        ValueError, match="merge_region_graphs: `graphs` must be at least one RegionGraph; got an empty"
    ):
        merge_region_graphs([])
    with pytest.raises(ValueError, match="merge_region_graphs: `graphs` must all have the same scoring"):
        merge_region_graphs([mean, histogram])
    with pytest.raises(TypeError, match=r"`graphs` must be a sequence of RegionGraphs; got one RegionGraph \(wrap"):
        merge_region_graphs(mean)
    with pytest.raises(TypeError, match=r"`graphs` must be RegionGraphs \(from block_region_graph\); got a dict"):
        merge_region_graphs([mean, mean._asdict()])
    with pytest.raises(TypeError, match=r"agglomerate_graph: `graph` must be a RegionGraph .*; got a list"):
        agglomerate_graph([mean], [0.5])
    with pytest.raises(ValueError, match="merge_region_graphs: `graphs` must all have the same scoring"):
        merge_region_graphs([maximum, block_region_graph(fragments, affinities, scoring="min")])
    with pytest.raises(
        ValueError,
        match=r"agglomerate_graph: `graph` must be statistics \['count', 'sum'\] for "
        r"scoring 'mean'; got \['max'\]",
    ):
        agglomerate_graph(maximum, [0.5])
    with pytest.raises(ValueError, match=r"`graph` must be statistics \['max'\] for scoring 'quantile-50'"):
        agglomerate_graph(mean, [0.5], scoring="quantile-50")
    with pytest.raises(ValueError, match=r"statistics \['bin', 'bin_count', 'bin_edge'\]"):
        agglomerate_graph(mean, [0.5], scoring="quantile-50-histogram", init_with_max=False)
    with pytest.raises(ValueError, match="agglomerate_graph: `scoring` 'quantile-50' without init_with_max"):
        agglomerate_graph(maximum, [0.5], scoring="quantile-50", init_with_max=False)
    with pytest.raises(ValueError, match="`thresholds` must be ascending"):
        agglomerate_graph(mean, [0.5, 0.2])


# --- inputs are never modified -------------------------------------------------------------------------------------


def test_inputs_not_modified(rng):
    fragments, affinities = random_volume(rng)
    for scoring, init_with_max in SCORINGS:
        frag_copy, aff_copy = fragments.copy(), affinities.copy()
        fragments.flags.writeable = affinities.flags.writeable = False
        graphs = block_graphs(fragments, affinities, (2, 3, 4), scoring=scoring, init_with_max=init_with_max)
        np.testing.assert_array_equal(fragments, frag_copy)
        np.testing.assert_array_equal(affinities, aff_copy)
        copies = [
            (
                g.labels.copy(),
                g.first_voxel.copy(),
                g.edges.copy(),
                g.first_face.copy(),
                {k: v.copy() for k, v in g.stats.items()},
            )
            for g in graphs
        ]
        graph = merge_region_graphs(graphs)
        graph_copy = RegionGraph(
            graph.labels.copy(),
            graph.first_voxel.copy(),
            graph.edges.copy(),
            graph.first_face.copy(),
            {k: v.copy() for k, v in graph.stats.items()},
        )
        thresholds = [0.2, 0.6]
        agglomerate_graph(graph, thresholds, scoring=scoring, init_with_max=init_with_max)
        assert thresholds == [0.2, 0.6]
        for g, copy in zip(graphs + [graph], copies + [graph_copy]):
            assert_graphs_equal(g, RegionGraph(*copy))
            for key in g.stats:
                np.testing.assert_array_equal(g.stats[key], copy[4][key])  # the sums exactly too
        fragments.flags.writeable = affinities.flags.writeable = True
