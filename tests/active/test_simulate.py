"""The simulated annotation loop: its summary against random selection, a short run on real data, the plot."""

import json

import h5py
import numpy as np
import pytest

from pytc.active.simulate import plot, summarize


def _records(curves):
    """Records of {strategy: [(voxels, score) per round]} for two seeds whose scores differ by +-0.01."""
    out = []
    for strategy, points in curves.items():
        for seed, delta in ((0, -0.01), (1, 0.01)):
            for r, (voxels, score) in enumerate(points):
                out.append(dict(strategy=strategy, seed=seed, round=r, voxels=voxels, score=score + delta))
    return out


def test_summary_against_random():
    summary = summarize(
        _records(
            {
                "random": [(100, 0.5), (200, 0.6), (300, 0.7), (400, 0.8)],
                "uncertainty": [(100, 0.5), (200, 0.8), (300, 0.85), (400, 0.9)],  # random's final at 200
                "coreset": [(100, 0.5), (200, 0.55), (300, 0.6), (400, 0.65)],  # never
            }
        )
    )
    assert summary["random"]["fraction_of_random_annotation"] == 1.0
    assert summary["uncertainty"]["fraction_of_random_annotation"] == 0.5
    assert summary["coreset"]["fraction_of_random_annotation"] is None
    first = summary["uncertainty"]["curve"][1]
    assert first == {"round": 1, "voxels": 200.0, "score": pytest.approx(0.8), "std": pytest.approx(0.01), "seeds": 2}


def test_plot_writes_a_png(tmp_path):
    from pytc.testing import require_module

    require_module("matplotlib", "the plot of the curves")
    result = {
        "task": "neurons",
        "metric": "1 - adapted Rand error",
        "summary": summarize(_records({"random": [(100, 0.5), (200, 0.6)], "uncertainty": [(100, 0.5), (200, 0.7)]})),
    }
    plot([result, result], tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.real_data
def test_short_simulation_on_gala(tmp_path, capsys):
    from pytc.active.__main__ import main
    from pytc.testing import read_gala

    out = tmp_path / "sim"
    args = ["simulate", "--task", "neurons", "--output", str(out), "--seeds", "0", "--rounds", "1", "--budget", "1"]
    args += ["--seed-patches", "1", "--iterations", "3", "--strategies", "random", "uncertainty"]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    rounds = [(r["strategy"], r["round"], r["voxels"]) for r in results["records"]]
    patch = 10 * 32 * 32
    assert rounds == [
        ("random", 0, patch),
        ("random", 1, 2 * patch),
        ("uncertainty", 0, patch),
        ("uncertainty", 1, 2 * patch),
    ]
    assert all(0 <= r["score"] <= 1 for r in results["records"])
    assert set(results["summary"]) == {"random", "uncertainty"}
    # the oracle: inside the labelled patches the pool's ground truth, elsewhere 0 and masked out
    gt = read_gala("train-gt")
    with h5py.File(out / "seed0" / "uncertainty" / "labels1.h5", "r") as f:
        label, mask = f["label"][:], f["mask"][:].astype(bool)
    assert mask.sum() == 2 * patch
    np.testing.assert_array_equal(label[mask], gt[mask])
    assert not label[~mask].any()
    assert "reaches random's final accuracy" in capsys.readouterr().out


def test_simulate_errors(tmp_path, capsys):
    from pytc.active.__main__ import main

    assert main(["simulate", "--task", "neurons", "--output", str(tmp_path), "--data", str(tmp_path / "no")]) == 2
    assert "the real data folder" in capsys.readouterr().err


def test_from_joins_runs_of_one_task(tmp_path, capsys):
    from pytc.active.__main__ import main

    curves = {"random": [(100, 0.5), (200, 0.6)], "uncertainty": [(100, 0.5), (200, 0.7)]}
    for name, seed in (("a", 0), ("b", 5)):
        records = [dict(r, seed=r["seed"] + seed) for r in _records(curves)]
        result = {"task": "neurons", "metric": "m", "records": records, "summary": summarize(records)}
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(result))
    assert (
        main(["simulate", "--from", str(tmp_path / "a"), str(tmp_path / "b"), "--plot", str(tmp_path / "c.png")]) == 0
    )
    assert capsys.readouterr().out.count("neurons (m)") == 1  # one task, one summary
    from pytc.active.simulate_command import merge_results

    (merged,) = merge_results([json.loads((tmp_path / n / "results.json").read_text()) for n in "ab"])
    assert [p["seeds"] for p in merged["summary"]["uncertainty"]["curve"]] == [4, 4]
