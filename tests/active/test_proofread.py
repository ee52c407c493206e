"""Proofreading: proposals with merge history, correction operations, their validation and the commands."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

import pytc.demo
from pytc.active.proofread import (
    Corrected,
    ProofreadError,
    Proposal,
    apply_operations,
    is_proposal,
    load_corrected,
    load_operations,
    propose,
)
from pytc.active.proofread_commands import apply_main, propose_main
from pytc.decode import boundary_to_affinity
from pytc.kernels import merge_sides

SAMPLE = Path(pytc.demo.__file__).parent / "data" / "gala_fibsem_mini.h5"


def row(*values):
    return np.array([[values]], dtype=np.uint64)


def chain_proposal():
    """Six fragments in a row, merged 1-2, 4-5, (1 2)-3, (4 5)-6, then the two halves: one segment, id 1."""
    fragments = row(1, 2, 3, 4, 5, 6)
    merges = np.array([[1, 2], [4, 5], [1, 3], [4, 6], [1, 4]], dtype=np.uint64)
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5], dtype=np.float32)
    return Proposal(row(1, 1, 1, 1, 1, 1), fragments, merges, scores, 0.6, "mean")


def labels_of(result):
    return result.labels.ravel().tolist()


# merge


def test_merge_keeps_the_smallest_id_and_never_modifies_the_input():
    labels = row(1, 2, 3, 4, 0, 4)
    before = labels.copy()
    result = apply_operations(labels, [{"op": "merge", "ids": [4, 2]}])
    assert labels_of(result) == [1, 2, 3, 2, 0, 2]
    assert result.merged == {4: 2} and result.labels.dtype == np.uint64
    np.testing.assert_array_equal(labels, before)


def test_merge_follows_earlier_merges():
    ops = [{"op": "merge", "ids": [3, 7]}, {"op": "merge", "ids": [7, 1]}, {"op": "merge", "ids": [1, 3, 7]}]
    result = apply_operations(row(1, 3, 7, 9), ops)
    assert labels_of(result) == [1, 1, 1, 9]
    assert result.merged == {7: 3, 3: 1}


# paint, erase, correct


def test_paint_a_box_with_a_new_or_an_existing_id():
    labels = np.zeros((2, 2, 3), np.uint32)
    labels[1] = 5
    ops = [
        {"op": "paint", "id": 9, "start": [0, 0, 1], "stop": [2, 1, 3]},
        {"op": "paint", "id": 5, "start": [0, 1, 0], "stop": [1, 2, 1]},
    ]
    expected = np.array([[[0, 9, 9], [5, 0, 0]], [[5, 9, 9], [5, 5, 5]]], np.uint64)
    np.testing.assert_array_equal(apply_operations(labels, ops).labels, expected)


def test_paint_and_erase_masks_from_arrays_and_files(tmp_path):
    labels = row(1, 1, 2, 2, 3, 3)
    mask = row(0, 1, 1, 0, 0, 0)
    with h5py.File(tmp_path / "masks.h5", "w") as f:
        f["erase"] = row(0, 0, 0, 0, 1, 0).astype(np.uint8)
    ops = [
        {"op": "paint", "id": 8, "mask": mask},
        {"op": "erase", "mask": "masks.h5:erase"},
        {"op": "erase", "start": [0, 0, 0], "stop": [1, 1, 1]},
    ]
    assert labels_of(apply_operations(labels, ops, base_dir=tmp_path)) == [0, 8, 8, 2, 0, 3]


def test_paint_with_a_merged_id_paints_the_id_it_lives_on():
    ops = [{"op": "merge", "ids": [2, 1]}, {"op": "paint", "id": 2, "start": [0, 0, 2], "stop": [1, 1, 3]}]
    assert labels_of(apply_operations(row(1, 2, 3), ops)) == [1, 1, 1]


def test_correct_lists_verified_ids_and_drops_those_merged_away():
    ops = [{"op": "correct", "id": 4}, {"op": "correct", "id": 2}, {"op": "merge", "ids": [1, 2]}]
    result = apply_operations(row(1, 2, 4), ops)
    assert result.verified == [4]
    again = apply_operations(result, ops)  # 2 was merged away: nothing to do
    assert again.verified == [4] and labels_of(again) == [1, 1, 4]


# split


def test_split_by_history_undoes_the_lowest_common_merge():
    proposal = chain_proposal()
    # fragments 2 and 5 were first joined by the last merge: its two sides
    result = apply_operations(proposal, [{"op": "split", "id": 1, "points": [[0, 0, 1], [0, 0, 4]]}])
    assert labels_of(result) == [1, 1, 1, 2, 2, 2] and result.split == {2: 1}
    # fragments 1 and 2: the first merge; fragment 2 alone leaves
    result = apply_operations(proposal, [{"op": "split", "id": 1, "points": [[0, 0, 0], [0, 0, 1]]}])
    assert labels_of(result) == [1, 2, 1, 1, 1, 1]
    # fragment 3 left its side {3} of merge 2; fragment 6 its side {4, 5, 6} of merge 4
    result = apply_operations(proposal, [{"op": "split", "id": 1, "points": [[0, 0, 0], [0, 0, 2], [0, 0, 5]]}])
    assert labels_of(result) == [1, 1, 2, 3, 3, 3] and result.split == {2: 1, 3: 1}
    np.testing.assert_array_equal(proposal.segmentation, row(1, 1, 1, 1, 1, 1))  # not modified


def test_split_by_history_stays_in_the_ids_region_and_undoes_an_operations_merge():
    proposal = chain_proposal()
    proposal.segmentation = row(1, 1, 1, 4, 4, 4)
    proposal.merges = proposal.merges[:4]  # two segments: {1, 2, 3} and {4, 5, 6}
    ops = [
        {"op": "merge", "ids": [1, 4]},
        {"op": "paint", "id": 9, "start": [0, 0, 5], "stop": [1, 1, 6]},
        {"op": "split", "id": 1, "points": [[0, 0, 0], [0, 0, 3]]},
    ]
    # fragments 1 and 4 were never joined by the model: point 1 takes its whole segment, less the painted voxel
    assert labels_of(apply_operations(proposal, ops)) == [1, 1, 1, 10, 10, 9]


def test_split_without_history_is_a_seeded_watershed_on_the_distance_transform():
    # two 3 x 3 squares joined by a neck two voxels long, in a background frame
    labels = np.zeros((1, 5, 10), np.uint64)
    labels[0, 1:4, 1:4] = 5
    labels[0, 1:4, 6:9] = 5
    labels[0, 2, 4:6] = 5
    labels[0, 0, 0] = 2
    result = apply_operations(labels, [{"op": "split", "id": 5, "points": [[0, 2, 2], [0, 2, 7]]}])
    expected = labels.copy()
    expected[0, 1:4, 6:9] = 6
    expected[0, 2, 5] = 6
    np.testing.assert_array_equal(result.labels, expected)
    assert result.split == {6: 5}


def test_split_with_two_points_in_one_fragment_falls_back_to_the_watershed():
    proposal = chain_proposal()
    proposal.fragments = row(1, 1, 1, 1, 1, 1)
    proposal.merges = np.zeros((0, 2), np.uint64)
    result = apply_operations(proposal, [{"op": "split", "id": 1, "points": [[0, 0, 0], [0, 0, 5]]}])
    assert labels_of(result) == [1, 1, 1, 2, 2, 2]


# idempotence


def test_applying_the_same_list_twice_gives_the_same_labels(tmp_path):
    proposal = chain_proposal()
    proposal.segmentation = row(1, 1, 1, 4, 4, 4)
    proposal.merges = proposal.merges[:4]
    ops = [
        {"op": "merge", "ids": [4, 1]},
        {"op": "split", "id": 4, "points": [[0, 0, 1], [0, 0, 2]]},
        {"op": "paint", "id": 20, "start": [0, 0, 5], "stop": [1, 1, 6]},
        {"op": "correct", "id": 20},
        {"op": "erase", "start": [0, 0, 4], "stop": [1, 1, 5]},
    ]
    once = apply_operations(proposal, ops)
    assert labels_of(once) == [1, 1, 5, 1, 0, 20]  # the new id is above every id used, 4 (merged) included
    twice = apply_operations(once, ops)
    np.testing.assert_array_equal(twice.labels, once.labels)
    assert twice.record() == once.record()
    # through a file: the record travels with the labels
    once.save(tmp_path / "corrected.h5:labels")
    reloaded = load_corrected(tmp_path / "corrected.h5:labels")
    assert reloaded.record() == once.record()
    np.testing.assert_array_equal(apply_operations(reloaded, ops).labels, once.labels)


# validation


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        ({"op": "recolour", "id": 1}, r"operation 1: unknown op 'recolour'"),
        ({"ids": [1, 2]}, r"operation 1: unknown op None"),
        ("merge", r"operation 1: must be an object"),
        ({"op": "merge", "ids": [1, 99]}, r"operation 1 \(merge\): unknown id 99"),
        ({"op": "merge", "ids": [1]}, r"operation 1 \(merge\): `ids` must be a list of at least two"),
        ({"op": "merge", "ids": [1, -2]}, r"operation 1 \(merge\): `ids` must be a positive integer id; got -2"),
        ({"op": "split", "id": 1}, r"operation 1 \(split\): missing 'points'"),
        ({"op": "correct", "id": 1, "colour": 3}, r"operation 1 \(correct\): unknown key 'colour'"),
        ({"op": "correct", "id": 42}, r"operation 1 \(correct\): unknown id 42"),
        ({"op": "correct", "id": 1.5}, r"operation 1 \(correct\): `id` must be a positive integer"),
        (
            {"op": "split", "id": 1, "points": [[0, 0, 0], [0, 2, 0]]},
            r"operation 1 \(split\): point 1 \[0, 2, 0\] is outside the volume of shape \[1, 2, 3\]",
        ),
        (
            {"op": "split", "id": 1, "points": [[0, 0, 0], [0, 1, 2]]},
            r"operation 1 \(split\): point 1 \[0, 1, 2\] is in id 3, not in id 1",
        ),
        ({"op": "split", "id": 1, "points": [[0, 0, 0], [0, 0]]}, r"operation 1 \(split\): point 1 must be 3 integ"),
        ({"op": "split", "id": 1, "points": [[0, 0, 0], [0, 0, 0]]}, r"operation 1 \(split\): the points must differ"),
        (
            {"op": "paint", "id": 4, "start": [0, 0, 0], "stop": [1, 3, 3]},
            r"operation 1 \(paint\): the box \[0, 0, 0\]..\[1, 3, 3\] must lie in the volume",
        ),
        ({"op": "erase", "start": [0, 1, 1], "stop": [1, 1, 2]}, r"operation 1 \(erase\): the box .* start < stop"),
        ({"op": "erase", "start": [0, 0, 0]}, r"operation 1 \(erase\): a box needs both 'start' and 'stop'"),
        ({"op": "erase"}, r"operation 1 \(erase\): give either a box"),
        ({"op": "paint", "id": 2, "mask": np.ones((2, 2, 2))}, r"operation 1 \(paint\): the mask must have"),
        ({"op": "paint", "id": 2, "mask": "missing.h5:m"}, r"operation 1 \(paint\): cannot read the mask"),
    ],
)
def test_bad_operations_name_their_index(tmp_path, operation, message):
    labels = np.array([[[1, 1, 2], [2, 3, 3]]], np.uint64)
    ops = [{"op": "correct", "id": 2}, operation]
    with pytest.raises(ProofreadError, match=message):
        apply_operations(labels, ops, base_dir=tmp_path)


def test_bad_sources_and_files(tmp_path):
    with pytest.raises(ValueError, match="apply_operations: `labels` must be a 3D integer array"):
        apply_operations(np.zeros((2, 2)), [])
    with pytest.raises(ValueError, match="apply_operations: `operations` must be a list of operation dicts"):
        apply_operations(row(1), {"op": "correct", "id": 1})
    (tmp_path / "bad.json").write_text("[{")
    with pytest.raises(ProofreadError, match="not valid JSON"):
        load_operations(tmp_path / "bad.json")
    (tmp_path / "object.json").write_text('{"op": "merge"}')
    with pytest.raises(ProofreadError, match="must hold a JSON list of operations; got dict"):
        load_operations(tmp_path / "object.json")
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["main"] = np.zeros((1, 1, 1))
    assert not is_proposal(tmp_path / "plain.h5") and not is_proposal(tmp_path / "missing.h5")
    with pytest.raises(ValueError, match="Proposal.load: `path` must be a proposal file"):
        Proposal.load(tmp_path / "plain.h5")


# real data: the shipped gala sample's boundary map, as affinities


@pytest.fixture(scope="module")
def gala_proposal():
    with h5py.File(SAMPLE, "r") as f:
        boundary = f["test/p1"][...]
    return propose(boundary_to_affinity(boundary), 0.5, scoring="mean")


def test_proposal_history_replays_and_saves(gala_proposal, tmp_path):
    from pytc.kernels import replay_merges

    assert len(gala_proposal.merges) > 200
    np.testing.assert_array_equal(
        replay_merges(gala_proposal.fragments, gala_proposal.merges), gala_proposal.segmentation
    )
    gala_proposal.save(tmp_path / "proposal.h5")
    assert is_proposal(tmp_path / "proposal.h5")
    loaded = Proposal.load(tmp_path / "proposal.h5")
    for name in ("segmentation", "fragments", "merges", "scores"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(gala_proposal, name))
    assert (loaded.threshold, loaded.scoring) == (0.5, "mean")


def voxel_in(mask):
    return [int(c) for c in np.argwhere(mask)[0]]


@pytest.mark.parametrize("which", ["last", "middle"])
def test_split_by_history_on_gala_gives_the_two_sides_of_the_merge(gala_proposal, which):
    proposal = gala_proposal
    fragments = proposal.fragments
    labels = np.unique(fragments)
    sides = merge_sides(proposal.merges, labels[labels != 0])
    # the segment made by the most merges, and one of its merges: the last (its root) or one in the middle
    final = {}
    for k, (kept, _) in enumerate(sides):
        final.setdefault(int(proposal.segmentation[fragments == min(kept)][0]), []).append(k)
    segment, merges = max(final.items(), key=lambda item: len(item[1]))
    assert len(merges) >= 5
    k = merges[-1] if which == "last" else merges[len(merges) // 2]
    kept, joined = sides[k]
    in_kept, in_joined = np.isin(fragments, list(kept)), np.isin(fragments, list(joined))
    ops = [{"op": "split", "id": segment, "points": [voxel_in(in_kept), voxel_in(in_joined)]}]
    result = apply_operations(proposal, ops)
    new = int(proposal.segmentation.max()) + 1
    in_segment = proposal.segmentation == segment
    np.testing.assert_array_equal(result.labels == new, in_joined)
    np.testing.assert_array_equal(result.labels == segment, in_segment & ~in_joined)
    if which == "last":
        np.testing.assert_array_equal(result.labels == segment, in_kept)
    np.testing.assert_array_equal(result.labels[~in_segment], proposal.segmentation[~in_segment])
    np.testing.assert_array_equal(apply_operations(result, ops).labels, result.labels)  # idempotent


# the commands


def test_commands_end_to_end(tmp_path, capsys):
    with h5py.File(SAMPLE, "r") as f:
        boundary = f["test/p1"][:10, :40, :60]
    with h5py.File(tmp_path / "pred.h5", "w") as f:
        f["affinities"] = boundary_to_affinity(boundary)
    assert (
        propose_main(
            ["--input", f"{tmp_path}/pred.h5:affinities", "--threshold", "0.5", "--output", str(tmp_path / "p.h5")]
        )
        == 0
    )
    proposal = Proposal.load(tmp_path / "p.h5")
    ids = [int(i) for i in np.unique(proposal.segmentation) if i]
    with h5py.File(tmp_path / "mask.h5", "w") as f:
        f["main"] = np.pad(np.ones((2, 2, 2), np.uint8), [(0, 8), (0, 38), (0, 58)])
    ops = [
        {"op": "merge", "ids": ids[:2]},
        {"op": "correct", "id": ids[2]},
        {"op": "paint", "id": 1000, "mask": "mask.h5"},
        {"op": "erase", "start": [9, 0, 0], "stop": [10, 40, 60]},
    ]
    (tmp_path / "ops.json").write_text(json.dumps(ops))
    out = f"{tmp_path}/corrected.h5:labels"
    assert apply_main([str(tmp_path / "p.h5"), str(tmp_path / "ops.json"), "--output", out]) == 0
    corrected = load_corrected(out)
    expected = apply_operations(proposal, ops, base_dir=tmp_path)
    np.testing.assert_array_equal(corrected.labels, expected.labels)
    assert corrected.verified == [ids[2]]
    with h5py.File(tmp_path / "corrected.h5", "r") as f:
        assert f["labels"].attrs["pytc_verified"].tolist() == [ids[2]]
    # again, on its own output: the same labels
    assert apply_main([out, str(tmp_path / "ops.json"), "--output", f"{tmp_path}/again.tif"]) == 0
    again = load_corrected(tmp_path / "again.tif")
    np.testing.assert_array_equal(again.labels, expected.labels)
    assert again.record() == expected.record()  # beside the TIFF, in a JSON file
    # errors: one line naming the operation
    (tmp_path / "bad.json").write_text(json.dumps([{"op": "merge", "ids": [ids[0], 999999]}]))
    capsys.readouterr()
    assert apply_main([out, str(tmp_path / "bad.json"), "--output", f"{tmp_path}/x.h5"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "pytc active apply: error: operation 0 (merge): unknown id 999999: not in the labels"
    )
    assert propose_main(["--input", str(tmp_path / "missing.h5"), "--threshold", "0.5", "--output", "x.h5"]) == 2
    assert capsys.readouterr().err.startswith("pytc active propose: error: ")


def test_corrected_labels_feed_like_any_labels(tmp_path):
    from pytc.data import read_volume

    result = apply_operations(row(1, 2, 3), [{"op": "merge", "ids": [2, 3]}])
    result.save(tmp_path / "c.h5:labels")
    np.testing.assert_array_equal(read_volume(tmp_path / "c.h5", "labels"), row(1, 2, 2))
    assert isinstance(load_corrected(tmp_path / "c.h5:labels"), Corrected)
