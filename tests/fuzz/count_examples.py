"""Examples tried per kernel by the fuzz tests, from hypothesis' own statistics.

    python tests/fuzz/count_examples.py                         # the CI budget
    PYTC_FUZZ_EXAMPLES=2000 python tests/fuzz/count_examples.py  # a larger one
    python tests/fuzz/count_examples.py -k watershed            # extra arguments go to pytest

Runs ``pytest --hypothesis-show-statistics`` on each test file of tests/fuzz in a subprocess (a kernel that crashes
kills only that run: its exit status is the signal, and faulthandler's traceback names the test) and prints one
row per kernel and property: the tests, the examples tried (generate phase, passing + failing), the failing
examples, the failed tests (mismatches or wrong errors), the xfailed known bugs (test_fuzz_regressions.py), the
crashes, the hangs (conftest's watchdog, or a file still running after PYTC_FUZZ_TIMEOUT seconds, default 3600)
and the time spent in the tests.
"""

import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path
from tempfile import TemporaryDirectory

HERE = Path(__file__).resolve().parent
# a key in the test's name -> the kernel it exercises; first match wins (the regressions by module)
KERNELS = [
    ("regressions", "regressions (earlier findings)"),
    ("seg_to_affinity", "seg_to_affinity"),
    ("seeded_watershed", "seeded_watershed (pytc.decode)"),
    ("mutex_watershed", "mutex_watershed"),
    ("region_graph", "block_region_graph / merge_region_graphs / agglomerate_graph"),
    ("agglomerate", "agglomerate / iter_agglomerate"),
    ("watershed", "watershed"),
    ("contingency_table", "contingency_table"),
    ("metrics", "adapted_rand / voi / evaluate"),
    ("label_pair", "contingency_table, adapted_rand, voi, evaluate"),
    ("affine_slices", "augment: affine_slices"),
    ("box_blur", "augment: box_blur_axis"),
    ("missing_part", "augment: missing_part"),
    ("elastic", "augment: elastic_2d / elastic_3d"),
    ("warp_with_field", "augment: warp_with_field"),
    ("rotated_overlaps", "augment: rotated_overlaps"),
    ("blur_cuboid", "augment: blur_cuboid (scipy)"),
    ("", "other"),
]
# a key in the test's module or name -> the property it checks; first match wins
PROPERTIES = [
    ("regressions", "minimal examples"),
    ("bad_arguments", "bad arguments raise"),
    ("outside_0_1", "rejects outside [0, 1], NaN"),
    ("depend_on_threads", "threads 1-3 agree"),
    ("large_volumes", "= reference, large volumes"),
    ("starts_from_the_watershed", "= with watershed fragments"),
    ("", "= reference"),
]
COLUMNS = ("tests", "examples", "failing examples", "failed tests", "xfailed", "crashes", "hangs", "seconds")
TIMEOUT = float(os.environ.get("PYTC_FUZZ_TIMEOUT", 3600))  # seconds per test file before it counts as a hang
# hypothesis' statistics: "<test id>:", "- during <phase> phase", "<n> passing, <n> failing, and <n> invalid ..."
STATS = re.compile(r"^(tests/fuzz/\S+?)(?:\[.*\])?:$|during (\w+) phase|(\d+) passing, (\d+) failing, and (\d+) inval")
CRASHED_IN = re.compile(r'File "[^"]*tests/fuzz/(test_\w+\.py)", line \d+ in (test_\w+)')


def kernel_of(module, name):
    """(kernel, property) of a test."""
    kernel = next(kernel for key, kernel in KERNELS if key in (module if key == "regressions" else name))
    return kernel, next(what for key, what in PROPERTIES if key in module + "::" + name)


def run_file(path, args, tmp):
    """pytest on one test file: (stdout lines, junit test cases, exit status or "hang", the test that crashed or
    hung, output tail)."""
    report = Path(tmp) / f"{path.stem}.xml"
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(path),
        "-q",
        "-p",
        "no:cacheprovider",
        "--hypothesis-show-statistics",
        f"--junitxml={report}",
        *args,
    ]
    try:
        run = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parents[1], timeout=TIMEOUT)
    except subprocess.TimeoutExpired as hang:
        return [], [], "hang", None, f"no result after {TIMEOUT:.0f} s (PYTC_FUZZ_TIMEOUT)\n{hang.stdout or ''}"[-3000:]
    cases = list(ElementTree.parse(report).iter("testcase")) if report.exists() else []
    status = "hang" if run.stderr.startswith("Timeout (") else run.returncode  # conftest's watchdog fired
    crashed = CRASHED_IN.findall(run.stderr)  # faulthandler's stacks: the innermost test frame comes first
    crashed = crashed[0] if crashed and (status == "hang" or status < 0) else None
    return run.stdout.splitlines(), cases, status, crashed, run.stdout[-3000:] + run.stderr[:3000]


def count(rows, lines, cases):
    test = phase = None
    for line in lines:
        match = STATS.search(line.strip())
        if not match:
            continue
        if match.group(1):
            test = match.group(1)
        elif match.group(2):
            phase = match.group(2)
        elif phase == "generate":
            row = rows[kernel_of(*test.split("::"))]
            row["examples"] += int(match.group(3)) + int(match.group(4))
            row["failing examples"] += int(match.group(4))
    for case in cases:
        row = rows[kernel_of(case.get("classname"), case.get("name"))]
        row["tests"] += 1
        row["seconds"] += float(case.get("time", 0))
        row["failed tests"] += any(child.tag in ("failure", "error") for child in case)
        row["xfailed"] += any(child.tag == "skipped" and "xfail" in (child.get("type") or "") for child in case)


def table(rows):
    def cells(row):
        return " | ".join(f"{row[c]:.1f}" if c == "seconds" else str(int(row[c])) for c in COLUMNS)

    total = defaultdict(float, {c: sum(row[c] for row in rows.values()) for c in COLUMNS})
    lines = ["| kernel | property | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    for kernel in dict.fromkeys(k for _, k in KERNELS):
        for what in dict.fromkeys(w for _, w in PROPERTIES):
            if (kernel, what) in rows:
                lines.append(f"| {kernel} | {what} | {cells(rows[kernel, what])} |")
    return "\n".join(lines + [f"| total | | {cells(total)} |"])


def main(args):
    rows = defaultdict(lambda: defaultdict(float))
    problems = []
    start = time.perf_counter()
    with TemporaryDirectory() as tmp:
        for path in sorted(HERE.glob("test_*.py")):
            lines, cases, status, crashed, tail = run_file(path, args, tmp)
            count(rows, lines, cases)
            if status == "hang":
                rows[kernel_of(*crashed) if crashed else ("other", "= reference")]["hangs"] += 1
                problems.append(f"{path.name}: a hang in {crashed}\n{tail}")
            elif status < 0:
                rows[kernel_of(*crashed) if crashed else ("other", "= reference")]["crashes"] += 1
                problems.append(f"{path.name}: pytest killed by signal {-status} (a crash) in {crashed}\n{tail}")
            elif status not in (0, 5):
                problems.append(f"{path.name}: pytest exit status {status}\n{tail}")
    print(table(rows))
    print(f"\n{time.perf_counter() - start:.1f} s in all (one pytest process per file)")
    for problem in problems:
        print("\n" + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
