"""Segment volumes of any size block by block on Dask: python -m pytc.segment COMMAND INPUT ... [options]

Commands:
  agglomerate AFFINITIES OUT.zarr --thresholds T [T ...]   watershed fragments, region graph, agglomeration
  components  VOLUME OUT.zarr [--threshold 0.5]            connected components of a binary or probability volume
  evaluate    SEG GT                                       adapted Rand error and VOI, tables summed over blocks

Inputs are PATH[:DATASET] of zarr or HDF5 volumes; outputs are zarr groups chunked by block. The jobs run on a new
local Dask cluster (--workers, --memory-limit) or on a running one (--scheduler ADDRESS). An interrupted job resumes:
run the same command again and the blocks recorded in its work folder (OUT.zarr.work) are skipped.

Examples:
  python -m pytc.segment agglomerate pred.zarr:affinities seg.zarr --thresholds 0.3 0.5 --workers 2
  python -m pytc.segment agglomerate pred.zarr:affinities seg.zarr --thresholds 0.5 --scheduler tcp://head:8786
  python -m pytc.segment components pred.zarr:mito mito.zarr --threshold 0.5 --connectivity 26
  python -m pytc.segment evaluate seg.zarr:segmentation_0.5 gt.h5:stack
"""

import json
import sys

from pytc.cli import command_parser


def _cluster_options(parser, work=True):
    parser.add_argument(
        "--block",
        type=int,
        nargs=3,
        metavar=("Z", "Y", "X"),
        default=(128, 128, 128),
        help="block shape, also the output chunks (default 128 128 128)",
    )
    parser.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://head:8786")
    parser.add_argument("--workers", type=int, help="local cluster: worker processes (default: one per core)")
    parser.add_argument("--threads-per-worker", type=int, default=1, help="local cluster: threads per worker")
    parser.add_argument("--memory-limit", default="auto", help="local cluster: memory per worker, e.g. 2GiB")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    if work:
        parser.add_argument("--work", help="the job's work folder (default OUT.zarr.work)")
        parser.add_argument("--overwrite", action="store_true", help="start again where another job's records are")


def parse_args(argv=None):
    parser = command_parser("python -m pytc.segment", __doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    agg = commands.add_parser("agglomerate", help="watershed and agglomeration of affinities")
    agg.add_argument("affinities", help="PATH[:DATASET], (C >= 3, Z, Y, X) float32 in [0, 1] or uint8")
    agg.add_argument("out", help="zarr group for fragments and segmentation_<t>")
    agg.add_argument("--thresholds", type=float, nargs="+", required=True, help="ascending agglomeration thresholds")
    agg.add_argument("--fragments", help="PATH[:DATASET] of existing fragments (skips the watershed)")
    agg.add_argument(
        "--halo",
        type=int,
        nargs=3,
        metavar=("Z", "Y", "X"),
        help="context of each block's watershed (default: pytc.blockwise.grid.DEFAULT_HALO, 48 48 48)",
    )
    agg.add_argument("--scoring", default="mean", help="as pytc.kernels.agglomerate (default mean)")
    agg.add_argument("--low", type=float, default=0.0001, help="watershed low threshold")
    agg.add_argument("--high", type=float, default=0.9999, help="watershed high threshold")
    agg.add_argument("--size-threshold", type=int, default=64, help="watershed size threshold")
    agg.add_argument("--dust", type=int, default=16, help="watershed dust size")
    _cluster_options(agg)
    cc = commands.add_parser("components", help="connected components of a binary or probability volume")
    cc.add_argument("volume", help="PATH[:DATASET]: foreground = value > --threshold (float) or != 0 (integer)")
    cc.add_argument("out", help="zarr group for components")
    cc.add_argument("--threshold", type=float, default=0.5)
    cc.add_argument("--connectivity", type=int, choices=(6, 18, 26), default=6)
    _cluster_options(cc)
    ev = commands.add_parser("evaluate", help="adapted Rand error and VOI, contingency tables summed over blocks")
    ev.add_argument("seg", help="PATH[:DATASET] of the segmentation")
    ev.add_argument("gt", help="PATH[:DATASET] of the ground truth (0 ignored)")
    ev.add_argument("--json", help="also write the scores to this file ('-': print JSON only)")
    _cluster_options(ev, work=False)
    return parser.parse_args(argv)


def _cluster(args):
    return {
        "block_shape": args.block,
        "scheduler": args.scheduler,
        "workers": args.workers,
        "threads_per_worker": args.threads_per_worker,
        "memory_limit": args.memory_limit,
        "progress": not args.quiet,
    }


def run(args):
    """The command's summary (dict)."""
    if args.command == "agglomerate":
        from pytc.blockwise import segment_blockwise

        return segment_blockwise(
            args.affinities,
            args.out,
            args.thresholds,
            fragments=args.fragments,
            **({} if args.halo is None else {"halo": args.halo}),
            scoring=args.scoring,
            low=args.low,
            high=args.high,
            size_threshold=args.size_threshold,
            dust=args.dust,
            work=args.work,
            overwrite=args.overwrite,
            **_cluster(args),
        )
    if args.command == "components":
        from pytc.blockwise import components_blockwise

        return components_blockwise(
            args.volume,
            args.out,
            threshold=args.threshold,
            connectivity=args.connectivity,
            work=args.work,
            overwrite=args.overwrite,
            **_cluster(args),
        )
    from pytc.blockwise import evaluate_blockwise

    return evaluate_blockwise(args.seg, args.gt, **_cluster(args))


def main(argv=None):
    args = parse_args(argv)
    try:
        summary = run(args)
    except (ValueError, TypeError, KeyError, FileNotFoundError, ImportError) as e:
        print(f"pytc segment: error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    if getattr(args, "json", None) == "-":
        print(json.dumps(summary, indent=2))
        return 0
    for key, value in summary.items():
        print(f"{key}: {value}")
    if getattr(args, "json", None):
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
