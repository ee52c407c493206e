"""Runs the benchmarks, stores the figures by machine and commit, and fails on a regression.

Run (from the repository root, with pytc importable):
    python benchmarks/track.py                              # the whole suite
    python benchmarks/track.py benchmarks/test_bench_affinity.py -k real_labels
    python benchmarks/track.py --subset headline --headline docs/benchmarks.md
    python benchmarks/track.py --from RUN.json --headline docs/benchmarks.md   # a stored run, no new one

Each run goes through pytest-benchmark in a subprocess (``--benchmark-only --benchmark-json``, every timing at
least ``--rounds`` rounds: ``--benchmark-min-rounds`` for the calibrated ones, PYTC_BENCH_ROUNDS for the
pedantic ones, see conftest.py) and is stored as ``STORE/<machine>/<commit>[-dirty]/<UTC time>.json``: the
pytest-benchmark JSON plus a ``pytc_track`` entry (machine, commit, status, re-check medians). The machine key
names the OS, architecture, CPU model and core count, and OMP_NUM_THREADS and PYTC_BENCH_SMOKE where set, so
only like runs are compared.

Comparison, on the median of each benchmark's rounds: with ``--baseline previous`` (the default) each
benchmark against its latest stored measurement on this machine from a run that did not regress (a
regressed run is stored but is not a baseline, so a regression keeps failing until it is fixed or accepted
by naming that run with --baseline); ``--baseline COMMIT`` against that commit's latest run, ``--baseline
PATH`` against a stored run (a .json, or a folder's latest), ``--baseline none`` against nothing.
A benchmark more than ``--threshold`` slower (ratio of medians > 1 + threshold) is run once more on its own;
it regresses only if it is that much slower again. Exit status: 0 when nothing regressed (also on the first
run on a machine, which only stores), 1 when something did (listed at the end), 2 when the benchmarks could
not run. Benchmarks marked ``untracked`` (their figure is not their time: memory, a share of time) are
shown but never fail the run.

Tables: each benchmark's median now, the baseline's and their ratio; and in each group with pytc and other
implementations (labels from the ``impl``/``name`` parameter or the test's name: ``pytc-*`` and ``numba-*``
are pytc's, so is the trainer), the fastest pytc variant against each of the others (ratio of medians, > 1:
pytc is faster; variants that do less than the peers, the bare contingency table and ``-out`` writing into a
reused buffer, are left out). ``--headline FILE`` writes those ratios and the data pipeline, training and inference
throughput of the run as Markdown, with its date, commit and machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STORE = ROOT / "benchmarks" / "results"

# The headline figures: each kernel against its peer on real data, the data pipeline, training and inference.
# The kernels and data pipelines take minutes on 2 cores; training and inference (which first trains a model for 2
# minutes) take longer: over 45 minutes together on a 2-core machine busy with other jobs.
HEADLINE = {
    "paths": [
        "benchmarks/test_bench_affinity.py",
        "benchmarks/test_bench_watershed.py",
        "benchmarks/test_bench_agglomerate.py",
        "benchmarks/test_bench_mutex_watershed.py",
        "benchmarks/test_bench_metrics.py",
        "benchmarks/test_bench_data_pipeline.py",
        "benchmarks/test_bench_train.py",
        "benchmarks/test_bench_inference.py",
    ],
    "k": (
        "test_seg_to_affinity_real_labels or test_watershed_gala or "
        "(test_agglomerate and not from_affinities and gala_fibsem and mean) or test_mutex_watershed_real or "
        "test_metrics_real or (test_data_pipeline and (0 or 2)) or test_bare_loop or test_trainer or "
        "test_bare_forward_passes or test_pytc_predict or test_monai_sliding_window_inference"
    ),
}
SUBSETS = {"headline": HEADLINE}

IMPLEMENTATION_PARAMS = ("impl", "name")  # the parameter that names the implementation in a group
PYTC_LABELS = re.compile(r"^(pytc|numba|trainer)")  # numba-*: pytc's numba kernels; trainer: pytc.train's Trainer
# pytc variants that do less than the peers, left out of the peer ratios: the bare contingency table (the peers
# compute the scores too) and writing into a reused output buffer (the peers allocate theirs)
NOT_LIKE_FOR_LIKE = re.compile(r"^pytc-contingency|-out$")
THROUGHPUT = {  # extra_info key -> (unit, scale) for the headline's throughput table
    "samples_per_s": ("samples/s", 1.0),
    "seconds_per_iteration": ("iterations/s", None),  # inverted
    "voxels_per_second": ("megavoxels/s", 1e-6),
}
THROUGHPUT_GROUPS = ("data pipeline", "training", "inference")


# ----------------------------------------------------------------------------------------------- identity


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def slug(text: str) -> str:
    text = re.sub(r"\((r|tm)\)|\bcpu\b|\bprocessor\b|@.*$", " ", text.lower())
    return re.sub(r"[^a-z0-9.]+", "-", text).strip("-")


def machine_key() -> str:
    """OS, architecture, CPU model and core count, and the environment that changes the figures."""
    parts = [platform.system(), platform.machine(), slug(cpu_model()), f"{os.cpu_count()}cores"]
    if os.environ.get("OMP_NUM_THREADS"):
        parts.append(f"omp{os.environ['OMP_NUM_THREADS']}")
    if os.environ.get("PYTC_BENCH_SMOKE") == "1":
        parts.append("smoke")
    return slug("-".join(parts))


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def commit_key() -> str:
    """The short commit, with -dirty when tracked files differ from it; 'nogit' outside a repository."""
    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return "nogit"
    return commit + ("-dirty" if dirty else "")


# ------------------------------------------------------------------------------------------------ running


def stop(message: str) -> NoReturn:
    """Exits with status 2 (1 means a regression)."""
    print(f"track: {message}", file=sys.stderr)
    sys.exit(2)


def run_pytest(selection: list[str], k: str | None, rounds: int, extra: list[str]) -> dict:
    """pytest-benchmark's JSON of the selected benchmarks; exits 2 when pytest fails."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            *selection,
            "--benchmark-only",
            f"--benchmark-json={out}",
            f"--benchmark-min-rounds={rounds}",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",  # timings one at a time, also when the tracker runs under pytest -n (its tests)
            "-q",
            *(["-k", k] if k else []),
            *extra,
        ]
        print("$ " + " ".join(command), flush=True)
        # an outer pytest's variables (an xdist worker's, the current test) would make the benchmarks think they run
        # inside it
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST"))}
        env["PYTC_BENCH_ROUNDS"] = str(rounds)
        done = subprocess.run(command, cwd=ROOT, env=env)
        if done.returncode != 0 or not out.exists():
            stop(f"pytest exited with status {done.returncode}; nothing stored")
        return json.loads(out.read_text())


def medians(run: dict) -> dict[str, float]:
    return {b["fullname"]: b["stats"]["median"] for b in run["benchmarks"] if b.get("stats")}


def tracked(bench: dict) -> bool:
    return not (bench.get("extra_info") or {}).get("untracked")


# ------------------------------------------------------------------------------------------------- store


def stored_runs(store: Path, machine: str) -> list[Path]:
    """Stored runs of `machine`, oldest first (the file names are UTC times)."""
    return sorted((store / machine).glob("*/*.json"), key=lambda p: (p.stem, str(p)))


def read_run(path: Path) -> dict:
    return json.loads(path.read_text())


def baseline_medians(spec: str, store: Path, machine: str) -> tuple[dict[str, float], str]:
    """fullname -> baseline median, and a description of where it comes from."""
    if spec == "none":
        return {}, "none"
    if spec == "previous":
        found: dict[str, float] = {}
        sources = set()
        for path in stored_runs(store, machine):
            run = read_run(path)
            if run.get("pytc_track", {}).get("status") == "regressed":
                continue
            for name, median in medians(run).items():
                found[name] = median
            sources.add(path.parent.name)
        if not found:
            return {}, "none (no earlier run on this machine)"
        return found, f"latest earlier measurement of each benchmark on {machine} ({len(sources)} commit(s))"
    path = Path(spec)
    if path.is_dir():
        runs = sorted(path.glob("*.json")) or sorted(path.glob("*/*.json"), key=lambda p: p.stem)
        if not runs:
            stop(f"`--baseline` must name a stored run; no .json under {path}")
        path = runs[-1]
    if not path.is_file():
        runs = [p for p in stored_runs(store, machine) if p.parent.name.startswith(spec)]
        if not runs:
            stop(f"`--baseline` must be previous, none, a stored run or a commit with a run on {machine}; got {spec!r}")
        path = runs[-1]
    return medians(read_run(path)), str(path)


def store_run(run: dict, store: Path, machine: str, commit: str, info: dict) -> Path:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    folder = store / machine / commit
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stamp}.json"
    run = dict(run, pytc_track=info)
    path.write_text(json.dumps(run, indent=1))
    return path


# ----------------------------------------------------------------------------------------------- tables


def implementation(bench: dict) -> str:
    """The implementation's label in its group: the impl/name parameter, else the test's name."""
    params = bench.get("params") or {}
    for key in IMPLEMENTATION_PARAMS:
        if isinstance(params.get(key), str):
            return params[key]
    name = bench["name"].split("[", 1)[0]
    return name.removeprefix("test_")


def is_pytc(label: str) -> bool:
    return bool(PYTC_LABELS.match(label)) or "pytc" in label


def short(bench: dict) -> str:
    return bench["name"].removeprefix("test_")


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.0f} us"


def peer_ratios(run: dict) -> list[dict]:
    """In each group with pytc and other implementations: the fastest pytc variant that does the same work against
    each other implementation."""
    groups: dict[str, list[dict]] = {}
    for bench in run["benchmarks"]:
        if bench.get("stats") and tracked(bench):
            groups.setdefault(bench["group"] or "", []).append(bench)
    rows = []
    for group, benches in groups.items():
        labelled = [(implementation(b), b) for b in benches]
        ours = [(label, b) for label, b in labelled if is_pytc(label) and not NOT_LIKE_FOR_LIKE.search(label)]
        peers = [(label, b) for label, b in labelled if not is_pytc(label)]
        if not ours or not peers:
            continue
        label, best = min(ours, key=lambda lb: lb[1]["stats"]["median"])
        for peer, other in peers:
            rows.append(
                dict(
                    group=group,
                    pytc=label,
                    pytc_median=best["stats"]["median"],
                    peer=peer,
                    peer_median=other["stats"]["median"],
                    speedup=other["stats"]["median"] / best["stats"]["median"],
                )
            )
    return rows


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))


def print_report(run: dict, base: dict[str, float], recheck: dict[str, float], threshold: float) -> list[str]:
    """Prints both tables; returns the regressed benchmarks' full names."""
    regressed = []
    rows = []
    for bench in sorted(run["benchmarks"], key=lambda b: (b["group"] or "", b["name"])):
        if not bench.get("stats"):
            continue
        name, now = bench["fullname"], bench["stats"]["median"]
        before = base.get(name)
        ratio = now / before if before else None
        again = recheck[name] / before if before and name in recheck else None
        if ratio is None:
            verdict = "new"
        elif not tracked(bench):
            verdict = "untracked"
        elif ratio > 1 + threshold and again is not None and again > 1 + threshold:
            verdict = "REGRESSED"
            regressed.append(name)
        elif ratio > 1 + threshold:
            verdict = "slower once (noise)"
        elif ratio < 1 - threshold:
            verdict = "faster"
        else:
            verdict = "ok"
        rows.append(
            [
                f"{bench['group']} | {short(bench)}",
                seconds(now),
                seconds(before),
                f"{ratio:.2f}" if ratio else "-",
                f"{again:.2f}" if again else "-",
                verdict,
            ]
        )
    print(f"\nAgainst the baseline (median of the rounds; ratio > {1 + threshold:.2f} is re-checked once):")
    print_table(["group | benchmark", "median", "baseline", "ratio", "re-check", "verdict"], rows)
    ratios = peer_ratios(run)
    if ratios:
        print("\npytc against the other implementations in its group (ratio of medians, > 1: pytc faster):")
        print_table(
            ["group", "pytc", "median", "other", "median", "speedup"],
            [
                [r["group"], r["pytc"], seconds(r["pytc_median"]), r["peer"], seconds(r["peer_median"])]
                + [f"{r['speedup']:.2f}x"]
                for r in ratios
            ],
        )
    return regressed


# -------------------------------------------------------------------------------------------- headline


def throughput_rows(run: dict) -> list[list[str]]:
    rows = []
    for bench in run["benchmarks"]:
        group = bench["group"] or ""
        if not group.startswith(THROUGHPUT_GROUPS):
            continue
        for key, (unit, scale) in THROUGHPUT.items():
            value = (bench.get("extra_info") or {}).get(key)
            if value:
                shown = 1 / value if scale is None else value * scale
                rows.append([group, short(bench), f"{shown:,.2f} {unit}"])
    return rows


def headline_markdown(run: dict, path: Path) -> str:
    info = run.get("pytc_track", {})
    threads = info.get("threads", {})
    lines = [
        "# Benchmark headline figures",
        "",
        f'Generated by `benchmarks/track.py --headline {path}` (see README, "Tracking benchmarks") from a run of',
        "",
        "```",
        " ".join(["pytest", *info.get("selection", [])] + ([f'-k "{info["k"]}"'] if info.get("k") else [])),
        "```",
        "",
        f"- Date: {info.get('date', run.get('datetime', '?'))}",
        f"- Commit: `{info.get('commit', '?')}`",
        f"- Machine: {info.get('cpu', '?')}, {info.get('cores', '?')} cores (`{info.get('machine', '?')}`)",
        "- Threads: " + ", ".join(f"{k} {v}" for k, v in threads.items() if v is not None),
        f"- Timings: median of at least {info.get('rounds', '?')} rounds per benchmark (pytest-benchmark)",
    ]
    if info.get("note"):
        lines.append(f"- Note: {info['note']}")
    lines += [
        "",
        "## Kernels and pipelines against their peers",
        "",
        "Ratio of medians in each benchmark group: the fastest pytc variant that does the same work (not the bare "
        "contingency table, not writing into a reused buffer) against each other implementation "
        "(> 1: pytc is faster).",
        "",
        "| group | pytc | median | other | median | speedup |",
        "|---|---|---:|---|---:|---:|",
    ]
    for r in peer_ratios(run):
        lines.append(
            f"| {r['group']} | {r['pytc']} | {seconds(r['pytc_median'])} | {r['peer']} "
            f"| {seconds(r['peer_median'])} | {r['speedup']:.2f}x |"
        )
    rows = throughput_rows(run)
    if rows:
        lines += [
            "",
            "## Data pipeline, training and inference throughput",
            "",
            "As each benchmark records it (from its best round).",
            "",
            "| group | benchmark | throughput |",
            "|---|---|---:|",
        ]
        lines += [f"| {g} | {b} | {t} |" for g, b, t in rows]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], epilog="Arguments after -- go to pytest unchanged."
    )
    parser.add_argument("selection", nargs="*", help="benchmark files or pytest node ids (default: benchmarks/)")
    parser.add_argument("-k", dest="k", help="pytest -k expression")
    parser.add_argument("--subset", choices=sorted(SUBSETS), help="a named selection (headline: the README figures)")
    parser.add_argument("--baseline", default="previous", help="previous (default), none, COMMIT or PATH")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE, help=f"runs folder (default {DEFAULT_STORE})")
    parser.add_argument("--threshold", type=float, default=0.15, help="slower by more than this fails (0.15)")
    parser.add_argument("--rounds", type=int, default=5, help="at least this many rounds per benchmark (5)")
    parser.add_argument("--headline", type=Path, help="write the headline Markdown of this run here")
    parser.add_argument(
        "--from", dest="from_run", type=Path, help="report on a stored run instead of running (baseline: only if named)"
    )
    parser.add_argument("--note", help="a remark stored with the run and printed in the headline")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if args.threshold <= 0:
        parser.error(f"`--threshold` must be > 0; got {args.threshold}")
    if args.rounds < 1:
        parser.error(f"`--rounds` must be >= 1; got {args.rounds}")
    return args, extra


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(argv)
    store = args.store.resolve()
    if args.from_run:
        run = read_run(args.from_run)
        machine = run.get("pytc_track", {}).get("machine", machine_key())
        # a stored run is compared only with a baseline named on the command line
        base = {} if args.baseline == "previous" else baseline_medians(args.baseline, store, machine)[0]
        print_report(run, base, run.get("pytc_track", {}).get("recheck", {}), args.threshold)
        if args.headline:
            args.headline.write_text(headline_markdown(run, args.headline))
            print(f"\nwrote {args.headline}")
        return 0

    subset = SUBSETS.get(args.subset, {})
    selection = args.selection or subset.get("paths") or ["benchmarks/"]
    k = " and ".join(f"({e})" for e in (subset.get("k"), args.k) if e) or None
    machine, commit = machine_key(), commit_key()
    base, where = baseline_medians(args.baseline, store, machine)
    print(f"track: machine {machine}, commit {commit}, baseline: {where}", flush=True)

    run = run_pytest(selection, k, args.rounds, extra)
    now = medians(run)
    suspects = [
        b["fullname"]
        for b in run["benchmarks"]
        if b["fullname"] in base and tracked(b) and now[b["fullname"]] > (1 + args.threshold) * base[b["fullname"]]
    ]
    recheck = {}
    if suspects:
        print(f"\ntrack: {len(suspects)} benchmark(s) over the threshold, running them once more", flush=True)
        recheck = medians(run_pytest(suspects, None, args.rounds, extra))

    regressed = print_report(run, base, recheck, args.threshold)
    info = dict(
        machine=machine,
        commit=commit,
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        cpu=cpu_model(),
        cores=os.cpu_count(),
        threads=run.get("machine_info", {}).get("pytc_threads", {}),
        selection=selection,
        k=k,
        rounds=args.rounds,
        threshold=args.threshold,
        baseline=where,
        recheck=recheck,
        regressed=regressed,
        status="regressed" if regressed else "first" if not base else "passed",
        note=args.note,
    )
    path = store_run(run, store, machine, commit, info)
    print(f"\nstored {path}")
    if args.headline:
        args.headline.write_text(headline_markdown(dict(run, pytc_track=info), args.headline))
        print(f"wrote {args.headline}")
    if regressed:
        print(f"\ntrack: {len(regressed)} benchmark(s) regressed by more than {args.threshold:.0%} in two runs:")
        for name in regressed:
            print(f"  REGRESSED {name}")
        return 1
    print("\ntrack: no regression" + ("" if base else " (no baseline: this run is the first one stored)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
