"""benchmarks/track.py, the benchmark tracker: it passes on unchanged code and fails on a kernel slowed with the
PYTC_SLOWDOWN switch (through its own exit status: no test here reads a time); its baseline choice, peer ratios
and headline table on stored runs written here."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pytc
from pytc.testing import require_data, require_module

ROOT = Path(__file__).resolve().parent.parent
TRACK = ROOT / "benchmarks" / "track.py"
# about 20 ms a call on real labels: long enough for a steady median, short enough for a quick test
BENCHMARK = "benchmarks/test_bench_affinity.py::test_seg_to_affinity_real_labels[pytc-1thread]"
pytestmark = pytest.mark.skipif(not TRACK.exists(), reason="only applies to a source checkout (benchmarks/track.py)")


def load_track():
    spec = importlib.util.spec_from_file_location("track", TRACK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_track(store, slowdown=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(pytc.__file__).parent.parent), env.get("PYTHONPATH")]))
    env.pop("PYTC_SLOWDOWN", None)
    if slowdown:
        env["PYTC_SLOWDOWN"] = slowdown
    # a 4x slower kernel is about 3x slower end to end; 50% leaves room for a shared machine's noise
    command = [sys.executable, str(TRACK), BENCHMARK, "--store", str(store), "--rounds", "10", "--threshold", "0.5"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.mark.real_data
def test_track_passes_unchanged_code_and_catches_a_slowed_kernel(tmp_path):
    require_module("pytest_benchmark", "the benchmark tracker")
    require_data("gala_fibsem_mini")

    first = run_track(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "no baseline: this run is the first one stored" in first.stdout
    assert len(list(tmp_path.glob("*/*/*.json"))) == 1

    unchanged = run_track(tmp_path)
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "track: no regression" in unchanged.stdout

    slowed = run_track(tmp_path, slowdown="seg_to_affinity=4")
    assert slowed.returncode == 1, slowed.stdout + slowed.stderr
    assert f"REGRESSED {BENCHMARK}" in slowed.stdout
    runs = sorted(tmp_path.glob("*/*/*.json"), key=lambda p: p.stem)
    assert len(runs) == 3
    stored = json.loads(runs[-1].read_text())["pytc_track"]
    assert stored["status"] == "regressed" and stored["regressed"] == [BENCHMARK]
    assert BENCHMARK in stored["recheck"]  # re-run on its own before it counted


def bench(name, group, median, impl=None, **extra_info):
    params = {"impl": impl} if impl else None
    full = f"benchmarks/test_x.py::{name}" + (f"[{impl}]" if impl else "")
    return dict(
        name=name + (f"[{impl}]" if impl else ""),
        fullname=full,
        group=group,
        params=params,
        stats={"median": median},
        extra_info=extra_info,
    )


def test_previous_baseline_is_the_latest_measurement_of_runs_that_did_not_regress(tmp_path, capsys):
    track = load_track()
    a, b = bench("test_a", "g", 1.0), bench("test_b", "g", 2.0)
    track.store_run({"benchmarks": [a, b]}, tmp_path, "m", "c1", {"status": "first"})
    track.store_run({"benchmarks": [dict(a, stats={"median": 1.1})]}, tmp_path, "m", "c2", {"status": "passed"})
    track.store_run({"benchmarks": [dict(a, stats={"median": 5.0})]}, tmp_path, "m", "c3", {"status": "regressed"})
    track.store_run({"benchmarks": [dict(a, stats={"median": 9.0})]}, tmp_path, "other", "c4", {"status": "passed"})

    medians, where = track.baseline_medians("previous", tmp_path, "m")
    assert medians == {a["fullname"]: 1.1, b["fullname"]: 2.0}
    assert "2 commit(s)" in where
    assert track.baseline_medians("c1", tmp_path, "m")[0] == {a["fullname"]: 1.0, b["fullname"]: 2.0}
    assert track.baseline_medians("c3", tmp_path, "m")[0] == {a["fullname"]: 5.0}  # named: accepted
    assert track.baseline_medians(str(tmp_path / "other" / "c4"), tmp_path, "m")[0] == {a["fullname"]: 9.0}
    assert track.baseline_medians("none", tmp_path, "m") == ({}, "none")
    assert track.baseline_medians("previous", tmp_path, "new-machine")[0] == {}
    with pytest.raises(SystemExit) as stopped:
        track.baseline_medians("c9", tmp_path, "m")
    assert stopped.value.code == 2  # 1 means a regression
    assert "`--baseline` must be previous, none, a stored run or a commit" in capsys.readouterr().err


def test_peer_ratios_take_the_fastest_pytc_variant_against_each_other_implementation():
    track = load_track()
    run = {
        "benchmarks": [
            bench("test_ws", "watershed", 0.4, "pytc-1thread"),
            bench("test_ws", "watershed", 0.25, "pytc-2threads"),
            bench("test_ws", "watershed", 1.0, "waterz"),
            bench("test_ws", "watershed", 0.5, "numpy-reference"),
            bench("test_ws", "watershed", 0.1, "pytc-2threads-out"),  # less work than the peers: left out
            bench("test_targets", "targets", 0.1, None),  # no pytc label and no peer: no row
            bench("test_pytc_predict", "inference", 2.0),
            bench("test_monai_sliding_window_inference", "inference", 3.0),
            bench("test_peak", "inference", 9.0, "pytc", untracked="memory"),  # never compared
            bench("test_trainer", "training", 1.25),
            bench("test_bare_loop", "training", 1.0),
        ]
    }
    rows = {(r["group"], r["peer"]): (r["pytc"], r["speedup"]) for r in track.peer_ratios(run)}
    assert rows == {
        ("watershed", "waterz"): ("pytc-2threads", 4.0),
        ("watershed", "numpy-reference"): ("pytc-2threads", 2.0),
        ("inference", "monai_sliding_window_inference"): ("pytc_predict", 1.5),
        ("training", "bare_loop"): ("trainer", 0.8),
    }


def test_headline_has_the_date_commit_machine_ratios_and_throughput(tmp_path):
    track = load_track()
    run = {
        "benchmarks": [
            bench("test_ws", "watershed", 0.25, "pytc-2threads"),
            bench("test_ws", "watershed", 1.0, "waterz"),
            bench("test_data_pipeline", "data pipeline neuron (18, 160, 160) samples/s", 1.0, samples_per_s=12.5),
            bench("test_trainer", "training iteration, demo config (CPU)", 3.0, seconds_per_iteration=0.25),
        ],
        "pytc_track": dict(
            date="2026-01-02 03:04 UTC", commit="abc123", cpu="Some CPU", cores=2, machine="m", rounds=5,
            threads={"pytc": 2, "torch": 2, "OMP_NUM_THREADS": None},
        ),
    }  # fmt: skip
    text = track.headline_markdown(run, tmp_path / "b.md")
    assert "- Date: 2026-01-02 03:04 UTC" in text and "`abc123`" in text and "Some CPU, 2 cores" in text
    assert "- Threads: pytc 2, torch 2" in text
    assert "| watershed | pytc-2threads | 250.0 ms | waterz | 1.00 s | 4.00x |" in text
    assert "| 12.50 samples/s |" in text and "| 4.00 iterations/s |" in text
