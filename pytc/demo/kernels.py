"""Affinity-graph demo: `python -m pytc.demo --kernels [LABELS] [--dataset NAME]`.

Computes the affinity graph of a label volume (generated when no path is given) with the
compiled kernel and with the numpy reference, checks that they agree and prints throughput.
"""

import argparse
import sys

import numpy as np

from .._timing import best_time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pytc.demo --kernels", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", help="label volume (.h5, .tif, .npy); default: a generated one")
    parser.add_argument("--dataset", help="HDF5 dataset name (if the file holds several)")
    parser.add_argument(
        "--shape",
        type=int,
        nargs="+",
        default=[128, 128, 128],
        help="shape of the generated volume (default: 128 128 128)",
    )
    parser.add_argument(
        "--long-range", action="store_true", help="add 9 long-range offsets to the 3 nearest neighbours (3D only)"
    )
    parser.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs, best is reported (default: 5)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1; got {args.repeat}")
    if args.path is None and len(args.shape) not in (2, 3):
        parser.error(f"--shape must have 2 or 3 values; got {args.shape}")
    return args


def main(argv=None):
    args = parse_args(argv)
    from pytc.kernels import DEFAULT_OFFSETS, LONG_RANGE_OFFSETS, max_threads, seg_to_affinity, seg_to_affinity_ref

    if args.path is None:
        from pytc.synthetic import random_segmentation

        seg = random_segmentation(tuple(args.shape), n_segments=max(8, np.prod(args.shape) // 10000))
        source = f"generated Voronoi segmentation {tuple(args.shape)}"
    else:
        from pytc.data import read_volume

        seg = read_volume(args.path, args.dataset)
        source = args.path
    if seg.ndim not in (2, 3) or not np.issubdtype(seg.dtype, np.integer):
        print(
            f"error: {source} must hold 2D or 3D integer labels; got shape {seg.shape}, dtype {seg.dtype}",
            file=sys.stderr,
        )
        return 2
    offsets = LONG_RANGE_OFFSETS if args.long_range and seg.ndim == 3 else DEFAULT_OFFSETS[seg.ndim]

    threads = args.threads or max_threads()
    print(f"labels: {source}, shape {seg.shape}, dtype {seg.dtype}, {len(np.unique(seg))} ids")
    print(f"offsets: {len(offsets)} channels, threads: {threads}")
    aff = seg_to_affinity(seg, offsets, threads=threads)
    same = np.array_equal(aff, seg_to_affinity_ref(seg, offsets))
    print(
        f"affinity graph: {aff.shape} {aff.dtype}, {aff.mean():.1%} of edges connected, matches numpy reference: {same}"
    )

    megavoxels = seg.size / 1e6
    reference = best_time(lambda: seg_to_affinity_ref(seg, offsets), args.repeat)
    timings = [("pytc, 1 thread", best_time(lambda: seg_to_affinity(seg, offsets, threads=1), args.repeat))]
    if threads > 1:
        seconds = best_time(lambda: seg_to_affinity(seg, offsets, threads=threads), args.repeat)
        timings.append((f"pytc, {threads} threads", seconds))
    timings.append(("numpy reference", reference))
    for name, seconds in timings:
        print(
            f"  {name:<20} {seconds * 1e3:9.2f} ms  {megavoxels / seconds:9.1f} Mvoxel/s  "
            f"{reference / seconds:5.1f}x reference"
        )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
