"""Times the watershed, agglomerate and mutex watershed kernels of two builds of pytc on real EM data.

Run:
    python benchmarks/compare_builds.py BEFORE AFTER [--threads 1 2] [--repeats 7] [--inner 3]

BEFORE and AFTER are repository roots with a built extension (``python setup.py build_ext --inplace``),
e.g. ``/work/wt/probe`` and ``.``. Each measurement runs in a fresh subprocess with PYTHONPATH set to
one build; the builds alternate (before, after, after, before, ...) so that drift in the machine's
load falls on both. A subprocess calls every kernel once (warm-up), then `--inner` times, timed
with time.perf_counter; the table gives, per kernel and thread count, the minimum and median over
all timed calls of each build and the after/before ratio of both, and the ratio of the minimum CPU
time of the process (time.process_time, all threads: less sensitive than the wall clock to other
processes on a shared machine, but on 2 threads it includes OpenMP's spin-waiting). Before timing, the outputs of
both builds are compared (a SHA-256 of every output array): the script stops if they differ.

Data: $PYTC_DATA (see ../shared/data/README.md). gala_fibsem_mini's train and test boundary
probabilities (train-p1, test-p1, (50, 100, 200) each) stacked along z into one (100, 100, 200)
volume, with their watershed fragments (train-ws, test-ws; the test ids offset past the train ids),
and the SNEMI3D crop's boundary probabilities and fragments (32, 160, 160). Kernels:
    watershed           pytc.kernels.watershed with its defaults (all five stages), on both volumes
    agglomerate-<s>     pytc.kernels.agglomerate(thresholds 0.1, 0.3, 0.5, 0.7, scoring s) of the
                        fragments, for s = mean and quantile-50-histogram (and quantile-50 on SNEMI)
    mutex_watershed     pytc.kernels.mutex_watershed with 3 attractive and 6 long-range repulsive
                        offsets (affinities 1 - max(p[v], p[v + offset])), on crops of both volumes
                        (train-p1[:, :50, :100] and SNEMI[:, :80, :80]: it takes seconds on the
                        full volumes, whose many ties make long mutex lists)
"""

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

THRESHOLDS = [0.1, 0.3, 0.5, 0.7]
OFFSETS = [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (-2, 0, 0), (0, -3, 0), (0, 0, -3), (-3, 0, 0), (0, -9, 0), (0, 0, -9)]


def load_cases():
    """name -> (boundary probabilities float32, fragments uint64) of the real volumes."""
    import numpy as np
    import tifffile

    from pytc.testing import read_gala, require_data

    p = np.concatenate([read_gala("train-p1"), read_gala("test-p1")]).astype(np.float32)
    train, test = read_gala("train-ws").astype(np.uint64), read_gala("test-ws").astype(np.uint64)
    fragments = np.concatenate([train, np.where(test > 0, test + train.max(), 0)])
    snemi_p = tifffile.imread(require_data("gala_snemi_mini_labels_only", "train-probabilities.tif"))
    snemi_f = tifffile.imread(require_data("gala_snemi_mini_labels_only", "train-fragments.tif"))
    snemi_p = snemi_p.astype(np.float32) / np.float32(255)
    return {
        "gala(100,100,200)": (p, fragments),
        "snemi(32,160,160)": (snemi_p, snemi_f.astype(np.uint64)),
        # crops for the mutex watershed, which takes seconds on the full volumes
        "gala-train(50,50,100)": (np.ascontiguousarray(p[:50, :50, :100]), None),
        "snemi(32,80,80)": (np.ascontiguousarray(snemi_p[:, :80, :80]), None),
    }


def kernels():
    """(name, case, function of (affinities, long-range affinities, fragments, threads) -> arrays)."""
    from pytc.kernels import agglomerate, mutex_watershed, watershed

    out = []
    for case in ("gala(100,100,200)", "snemi(32,160,160)"):
        out.append(("watershed", case, lambda a, lr, f, t: [watershed(a, threads=t)]))
        scorings = ["mean", "quantile-50-histogram"] + (["quantile-50"] if case.startswith("snemi") else [])
        for s in scorings:
            out.append(
                (
                    f"agglomerate-{s}",
                    case,
                    lambda a, lr, f, t, s=s: list(agglomerate(a, THRESHOLDS, fragments=f, scoring=s, threads=t)),
                )
            )
    for case in ("gala-train(50,50,100)", "snemi(32,80,80)"):
        out.append(
            ("mutex_watershed", case, lambda a, lr, f, t: [mutex_watershed(lr, OFFSETS, attractive=3, threads=t)])
        )
    return out


def worker(threads, inner):
    """Times every kernel in this process's build; prints one JSON line."""
    import numpy as np

    from pytc.decode import boundary_to_affinity

    inputs = {}
    for name, (p, f) in load_cases().items():
        inputs[name] = (
            np.ascontiguousarray(boundary_to_affinity(p)),
            np.ascontiguousarray(boundary_to_affinity(p, OFFSETS)),
            f,
        )
    result = {}
    for name, case, fn in kernels():
        a, lr, f = inputs[case]
        outputs = fn(a, lr, f, threads)  # warm-up, and the outputs to compare
        digest = hashlib.sha256()
        for o in outputs:
            digest.update(f"{o.dtype}{o.shape}".encode())
            digest.update(np.ascontiguousarray(o).tobytes())
        times, cpu = [], []
        for _ in range(inner):
            start, start_cpu = time.perf_counter(), time.process_time()
            fn(a, lr, f, threads)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        result[f"{name} {case}"] = {"sha256": digest.hexdigest(), "seconds": times, "cpu": cpu}
    print(json.dumps(result))


def run_build(root, threads, inner):
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS=str(threads))
    done = subprocess.run(
        [sys.executable, __file__, "--worker", "--threads", str(threads), "--inner", str(inner)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=root,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", nargs="?")
    parser.add_argument("after", nargs="?")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=7, help="subprocesses per build and thread count")
    parser.add_argument("--inner", type=int, default=3, help="timed calls per kernel in each subprocess")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.threads[0], args.inner)
        return
    if args.before is None or args.after is None:
        parser.error("BEFORE and AFTER are required")
    builds = {"before": Path(args.before).resolve(), "after": Path(args.after).resolve()}
    for label, root in builds.items():
        found = subprocess.run(
            [sys.executable, "-c", "import pytc._ext; print(pytc._ext.__file__)"],
            check=True,
            env=dict(os.environ, PYTHONPATH=str(root)),
            capture_output=True,
            text=True,
            cwd=root,
        ).stdout.strip()
        if not found.startswith(str(root)):
            sys.exit(f"compare_builds: the {label} build's extension is not under {root}; got {found}")
        print(f"{label}: {found}")
    print(f"repeats {args.repeats} x inner {args.inner} timed calls per build, kernel and thread count")
    print(
        f"{'kernel':<52} {'thr':>3} {'before min':>10} {'after min':>10} {'ratio':>6}"
        f" {'before med':>10} {'after med':>10} {'ratio':>6} {'cpu ratio':>9}"
    )
    for threads in args.threads:
        samples = {"before": {}, "after": {}}
        cpu = {"before": {}, "after": {}}
        digests = {"before": {}, "after": {}}
        for r in range(args.repeats):
            order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
            for label in order:
                for key, value in run_build(builds[label], threads, args.inner).items():
                    samples[label].setdefault(key, []).extend(value["seconds"])
                    cpu[label].setdefault(key, []).extend(value["cpu"])
                    digests[label].setdefault(key, set()).add(value["sha256"])
        for key in samples["before"]:
            if not (len(digests["before"][key]) == 1 and digests["before"][key] == digests["after"][key]):
                sys.exit(f"compare_builds: outputs of {key} differ between the builds (threads={threads})")
            b, a = samples["before"][key], samples["after"][key]
            bmin, amin, bmed, amed = min(b), min(a), statistics.median(b), statistics.median(a)
            print(
                f"{key:<52} {threads:>3} {bmin * 1e3:>8.1f}ms {amin * 1e3:>8.1f}ms {amin / bmin:>6.3f}"
                f" {bmed * 1e3:>8.1f}ms {amed * 1e3:>8.1f}ms {amed / bmed:>6.3f}"
                f" {min(cpu['after'][key]) / min(cpu['before'][key]):>9.3f}",
                flush=True,
            )
    print("outputs identical between the builds (SHA-256 of every output array)")


if __name__ == "__main__":
    main()
