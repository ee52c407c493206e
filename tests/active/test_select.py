"""Selection for annotation: uncertainty reductions, candidate patches and scores, strategies, and the select
command on real data."""

import json

import h5py
import numpy as np
import pytest

from pytc.active import grid_patches, patch_scores, read_manifest, reduce_samples, region_patches, select_patches
from pytc.active.patches import overlaps, patch_scores_reference
from pytc.active.strategies import STRATEGIES
from pytc.active.uncertainty import _DropoutOn

PATCH = (4, 8, 8)


def _binary_entropy(p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -(p * np.log(p) + (1 - p) * np.log1p(-p))


@pytest.mark.parametrize("reduce", ["entropy", "variance", "bald"])
def test_reduce_samples_matches_the_formulas(rng, reduce):
    samples = rng.random((6, 4, 5, 6, 7)).astype(np.float32)  # T=6 predictions of 3 sigmoid + 1 sigmoid channels
    tasks = [(0, 3, "sigmoid"), (3, 4, "sigmoid")]
    mean = samples.astype(np.float64).mean(0)
    per_task = []
    for start, stop, _ in tasks:
        h_mean = _binary_entropy(mean[start:stop]).mean(0)
        if reduce == "entropy":
            per_task.append(h_mean)
        elif reduce == "bald":
            per_task.append(h_mean - np.mean([_binary_entropy(s[start:stop]).mean(0) for s in samples], 0))
    expected = samples.astype(np.float64).var(0).mean(0) if reduce == "variance" else np.mean(per_task, 0)
    got = reduce_samples(iter(samples), tasks, reduce)
    assert got.shape == (5, 6, 7) and got.dtype == np.float32
    np.testing.assert_allclose(got, np.clip(expected, 0, None), rtol=1e-4, atol=1e-6)


def test_reduce_samples_agreeing_samples(rng):
    p = rng.random((2, 3, 4, 5)).astype(np.float32)
    tasks = [(0, 2, "softmax")]
    p /= p.sum(0)
    assert np.abs(reduce_samples(iter([p, p, p]), tasks, "bald")).max() < 1e-6  # no disagreement
    assert np.abs(reduce_samples(iter([p, p]), tasks, "variance")).max() < 1e-6
    assert reduce_samples(iter([p, p]), tasks, "entropy").min() > 0
    with pytest.raises(ValueError, match="`samples` must be 2 or more predictions; got 1"):
        reduce_samples(iter([p]), tasks, "entropy")
    with pytest.raises(ValueError, match="`reduce` must be one of"):
        reduce_samples(iter([p, p]), tasks, "max")


@pytest.mark.parametrize("aggregate", ["mean", "max", "top10"])
def test_patch_scores_match_the_reference(rng, aggregate):
    score_map = rng.random((13, 30, 41))
    starts = grid_patches(score_map.shape, PATCH, (3, 5, 7))
    np.testing.assert_allclose(
        patch_scores(score_map, starts, PATCH, aggregate), patch_scores_reference(score_map, starts, PATCH, aggregate)
    )


def test_grid_and_region_patches(rng):
    starts = grid_patches((10, 20, 20), PATCH)
    assert len(starts) == 3 * 3 * 3 and starts.max(0).tolist() == [6, 12, 12]  # last ones pushed inside
    with pytest.raises(ValueError, match=r"`patch` must be at most the volume's shape \(3, 20, 20\)"):
        grid_patches((3, 20, 20), PATCH)
    score_map = np.zeros((20, 40, 40))
    score_map[2:5, 30:36, 30:36] = 1  # one hot region near a corner, one small one
    score_map[15, 5, 5] = 0.5
    starts = region_patches(score_map, PATCH, quantile=0.9)
    assert starts.tolist()[0] == [1, 28, 28]  # centred on the larger region (centre 3, 32.5, 32.5), holding it
    assert ((starts >= 0) & (starts <= np.array(score_map.shape) - PATCH)).all()


@pytest.fixture
def candidates(rng):
    starts = grid_patches((16, 48, 48), PATCH, (2, 4, 4))  # overlapping candidates
    scores = rng.random(len(starts))
    features = rng.normal(size=(len(starts), 5))
    streams = (rng.normal(size=(len(starts), 12)), rng.normal(size=(len(starts), 12)))
    return starts, scores, features, streams


@pytest.mark.parametrize("strategy", STRATEGIES.names())
def test_every_strategy_picks_the_budget_without_overlaps(candidates, strategy):
    starts, scores, features, streams = candidates
    taken = starts[[0, 100]]
    picked = select_patches(
        strategy, starts, scores, 12, PATCH, features=features, streams=streams, taken=taken, seed=3
    )
    assert len(picked) == 12 and len(set(picked.tolist())) == 12
    chosen = starts[picked]
    assert not (overlaps(chosen, chosen, PATCH) & ~np.eye(12, dtype=bool)).any()
    assert not overlaps(chosen, taken, PATCH).any()
    again = select_patches(strategy, starts, scores, 12, PATCH, features=features, streams=streams, taken=taken, seed=3)
    np.testing.assert_array_equal(picked, again)  # reproducible from the seed


def test_uncertainty_picks_the_top_and_random_does_not(candidates):
    starts, scores, _, _ = candidates
    tiled = grid_patches((16, 48, 48), PATCH)
    tiled_scores = patch_scores(np.arange(16 * 48 * 48).reshape(16, 48, 48) % 7, tiled, PATCH)
    picked = select_patches("uncertainty", tiled, tiled_scores, 5, PATCH)
    assert sorted(tiled_scores[picked]) == sorted(np.sort(tiled_scores)[-5:])
    first = select_patches("random", starts, scores, 5, PATCH, seed=1)
    assert not np.array_equal(first, select_patches("random", starts, scores, 5, PATCH, seed=2))


def test_coreset_is_k_center_greedy(rng):
    """Each coreset pick is the candidate farthest from the labelled and earlier picks (disjoint patches)."""
    starts = grid_patches((8, 64, 64), PATCH)  # tiles: no overlaps to skip
    features = rng.normal(size=(len(starts), 3))
    labelled = rng.normal(size=(2, 3))
    picked = select_patches(
        "coreset", starts, np.zeros(len(starts)), 6, PATCH, features=features, labelled_features=labelled
    )
    centres = list(labelled)
    for i in picked:
        distance = np.min([((features - c) ** 2).sum(1) for c in centres], 0)
        assert distance[i] == pytest.approx(distance.max())
        centres.append(features[i])


def test_diversity_stays_among_the_most_uncertain(candidates):
    starts, scores, features, _ = candidates
    picked = select_patches("diversity", starts, scores, 5, PATCH, features=features, pool_factor=4)
    order = np.argsort(-scores, kind="stable")
    assert set(picked.tolist()) <= set(order[: 4 * 5 * 40].tolist())  # within the top candidates (overlaps skipped)
    assert scores[picked].mean() > np.median(scores)


def test_select_patches_errors(candidates):
    starts, scores, _, _ = candidates
    with pytest.raises(ValueError, match="`best` is not a known selection strategy; the known ones are"):
        select_patches("best", starts, scores, 3, PATCH)
    with pytest.raises(ValueError, match="`features` must be given for strategy 'coreset'"):
        select_patches("coreset", starts, scores, 3, PATCH)
    with pytest.raises(ValueError, match="`budget` must be in"):
        select_patches("random", starts, scores, 0, PATCH)
    with pytest.raises(ValueError, match="`scores` must be one per candidate"):
        select_patches("random", starts, scores[:-1], 3, PATCH)


def test_mc_dropout_needs_dropout_layers():
    import torch

    with pytest.raises(ValueError, match="train it with model.dropout > 0"):
        _DropoutOn(torch.nn.Sequential(torch.nn.Conv3d(1, 1, 1)))
    model = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 1), torch.nn.BatchNorm3d(4), torch.nn.Dropout3d(0.5))
    wrapped = _DropoutOn(model).eval()
    assert model[2].training and not model[1].training  # dropout on, batch norm frozen
    x = torch.ones(1, 1, 2, 4, 4)
    assert not torch.equal(wrapped(x), wrapped(x))


# ---- the select command on real data ----


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from pytc.testing import tiny_config
    from pytc.train import train

    runs = []
    for seed, dropout in ((0, 0.0), (1, 0.0), (2, 0.3)):  # the first two: an ensemble; the third has dropout
        folder = tmp_path_factory.mktemp(f"model{seed}")
        cfg = tiny_config(
            folder,
            "solver.iterations=8",
            "val.every=0",
            "model.filters=[8, 16]",
            f"system.seed={seed}",
            f"model.dropout={dropout}",
        )
        runs.append(str(train(cfg)[0]))
    return runs


def _select(*args):
    from pytc.active.__main__ import main

    return main(["select", *args])


@pytest.mark.real_data
@pytest.mark.parametrize("strategy", STRATEGIES.names())
def test_select_command_on_gala(trained, tmp_path, strategy, capsys):
    from pytc.testing import gala_spec

    pool = gala_spec("test-image")
    out = tmp_path / "sel"
    args = ["--checkpoint", trained[0], "--pool", pool, "--budget", "3", "--patch", "10", "32", "32"]
    assert _select(*args, "--strategy", strategy, "--samples", "4", "--output", str(out)) == 0
    manifest = read_manifest(out)
    assert manifest["strategy"] == strategy and len(manifest["patches"]) == 3
    assert manifest["uncertainty"] == {"source": "tta", "samples": 4, "reduce": "entropy"}
    from pytc.data import read_volume

    image = read_volume(*pool.rsplit(":", 1))
    with h5py.File(out / "crops.h5", "r") as f:
        for p in manifest["patches"]:
            region = tuple(slice(s, s + n) for s, n in zip(p["start"], p["shape"]))
            np.testing.assert_array_equal(f[p["name"]]["image"][:], image[region])
    with h5py.File(out / "uncertainty.h5", "r") as f:
        uncertainty = f["uncertainty"][:]
    assert uncertainty.shape == image.shape and 0 <= uncertainty.min() and uncertainty.max() <= np.log(2) + 1e-6
    scores = [p["score"] for p in manifest["patches"]]
    for p, score in zip(manifest["patches"], scores):
        region = tuple(slice(s, s + n) for s, n in zip(p["start"], p["shape"]))
        assert score == pytest.approx(float(uncertainty[region].astype(np.float64).mean()), rel=1e-5)
    if strategy == "uncertainty":
        assert scores == sorted(scores, reverse=True)
    # the next round leaves the annotated patches out
    again = tmp_path / "sel2"
    assert _select(*args, "--strategy", strategy, "--samples", "4", "--exclude", str(out), "--output", str(again)) == 0
    first = np.array([p["start"] for p in manifest["patches"]])
    second = np.array([p["start"] for p in read_manifest(again)["patches"]])
    assert not overlaps(first, second, (10, 32, 32)).any()


@pytest.mark.real_data
@pytest.mark.parametrize(
    ("source", "reduce"), [("ensemble", "bald"), ("tta", "variance"), ("mc_dropout", "bald"), ("mc_dropout", "entropy")]
)
def test_select_sources(trained, tmp_path, source, reduce):
    from pytc.active import select
    from pytc.testing import gala_spec

    checkpoint = {"ensemble": trained[:2], "tta": trained[0], "mc_dropout": trained[2]}[source]
    selection = select(
        checkpoint,
        gala_spec("test-image"),
        2,
        (10, 32, 32),
        source=source,
        reduce=reduce,
        samples=4,
        output=tmp_path / "sel",
    )
    assert selection.uncertainty.shape == (50, 100, 200) and selection.uncertainty.max() > 0
    assert json.loads((tmp_path / "sel" / "manifest.json").read_text())["uncertainty"]["reduce"] == reduce


@pytest.mark.real_data
def test_select_errors(trained, tmp_path, capsys):
    from pytc.testing import gala_spec

    base = ["--checkpoint", trained[0], "--pool", gala_spec("test-image"), "--budget", "2", "--patch", "10", "32", "32"]
    assert _select(*base, "--source", "mc_dropout", "--output", str(tmp_path / "a")) == 2
    assert "train it with model.dropout > 0" in capsys.readouterr().err
    assert _select(*base, "--samples", "5", "--output", str(tmp_path / "b")) == 2
    assert "`samples` must be one of (4, 8, 16)" in capsys.readouterr().err
    assert _select(*base[:-3], "60", "32", "32", "--output", str(tmp_path / "c")) == 2
    assert "`patch` must be at most the volume's shape" in capsys.readouterr().err
    assert _select(*base, "--source", "ensemble", "--output", str(tmp_path / "d")) == 2
    assert "`checkpoints` must be 2 or more for source 'ensemble'" in capsys.readouterr().err


@pytest.mark.real_data
def test_selection_folder_in_the_viewer(trained, tmp_path):
    from pytc.active import select
    from pytc.testing import gala_spec
    from pytc.view import open_region, run_boxes, run_volumes

    select(trained[0], gala_spec("test-image"), 3, (10, 32, 32), samples=4, output=tmp_path / "sel")
    specs = run_volumes(tmp_path / "sel")
    assert [(s.name, open_region(s).kind) for s in specs] == [("pool", "image"), ("uncertainty", "prob")]
    boxes = run_boxes(tmp_path / "sel")
    assert len(boxes) == 3 and all(np.subtract(b["stop"], b["start"]).tolist() == [10, 32, 32] for b in boxes)


def test_diversity_widens_its_pool_when_the_top_overlaps():
    """The 4 x budget most uncertain candidates all overlap one another: diversity still picks the budget."""
    starts = grid_patches((8, 64, 64), PATCH, (1, 1, 1))
    scores = -np.abs(starts - np.array([2, 28, 28])).sum(1).astype(float)  # a peak: the top is one cluster
    features = np.random.default_rng(0).normal(size=(len(starts), 4))
    picked = select_patches("diversity", starts, scores, 6, PATCH, features=features)
    assert len(picked) == 6 and not (overlaps(starts[picked], starts[picked], PATCH) & ~np.eye(6, dtype=bool)).any()
