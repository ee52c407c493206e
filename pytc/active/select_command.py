"""Pick the patches of a pool volume to annotate next: python -m pytc.active select --checkpoint RUN
--pool VOLUME --budget N --patch Z Y X --output SELECTION [options]

The model predicts the pool several times (test-time variants, MC dropout, or an ensemble of checkpoints),
the predictions are reduced to a per-voxel uncertainty (entropy, variance or BALD), candidate patches on a grid
(or on regions of high uncertainty) are scored, and a strategy picks BUDGET of them. The selection folder gets
manifest.json, crops.h5 (the patches' images, for annotation) and uncertainty.h5; `python -m pytc.view --run
SELECTION` shows them, and `python -m pytc.active ingest SELECTION LABELS` takes the annotations back.

examples:
  python -m pytc.active select --checkpoint runs/mito --pool pool.h5:raw --budget 10 --patch 16 64 64 \\
      --strategy diversity --output runs/mito/round1
  python -m pytc.active select --checkpoint runs/a runs/b runs/c --source ensemble --reduce bald ...
  python -m pytc.active select ... --exclude runs/mito/round1 --output runs/mito/round2   # the next round
"""

import sys

from pytc.cli import command_parser


def parse_args(argv=None):
    from .patches import AGGREGATES
    from .select import CANDIDATES
    from .strategies import STRATEGIES
    from .uncertainty import REDUCTIONS, SOURCES

    parser = command_parser("python -m pytc.active select", __doc__)
    parser.add_argument("--checkpoint", nargs="+", required=True, help="checkpoint or run folder (several: ensemble)")
    parser.add_argument("--pool", required=True, help="the unlabelled image volume, PATH[:DATASET]")
    parser.add_argument("--budget", type=int, required=True, help="patches to pick")
    parser.add_argument("--patch", type=int, nargs=3, required=True, metavar=("Z", "Y", "X"))
    parser.add_argument("--output", required=True, help="the selection folder to write")
    parser.add_argument("--strategy", default="uncertainty", choices=STRATEGIES.names())
    parser.add_argument("--source", default="tta", choices=SOURCES, help="where the predictions' spread comes from")
    parser.add_argument("--samples", type=int, default=8, help="predictions (tta: 4, 8 or 16)")
    parser.add_argument("--reduce", default="entropy", choices=REDUCTIONS)
    parser.add_argument("--candidates", default="grid", choices=CANDIDATES)
    parser.add_argument("--stride", type=int, nargs=3, metavar=("Z", "Y", "X"), help="grid stride (default: patch)")
    parser.add_argument("--aggregate", default="mean", choices=AGGREGATES, help="a patch's score from its voxels")
    parser.add_argument("--exclude", nargs="+", default=[], help="earlier selection folders (already annotated)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from pytc.data import VolumeReadError

    from .select import select

    checkpoint = args.checkpoint if len(args.checkpoint) > 1 else args.checkpoint[0]
    try:
        selection = select(
            checkpoint,
            args.pool,
            args.budget,
            args.patch,
            args.strategy,
            source=args.source,
            samples=args.samples,
            reduce=args.reduce,
            candidates=args.candidates,
            stride=args.stride,
            aggregate=args.aggregate,
            exclude=args.exclude,
            seed=args.seed,
            device=args.device,
            output=args.output,
        )
    except (FileNotFoundError, FileExistsError, KeyError, ValueError, TypeError, VolumeReadError) as e:
        print(f"pytc active select: error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    times = ", ".join(f"{k} {v:.1f} s" for k, v in selection.timings.items())
    print(f"picked {len(selection.starts)} patches of {args.patch} ({args.strategy}); {times}")
    for name, start, score in zip(selection.names, selection.starts, selection.scores):
        print(f"  {name}  start {tuple(int(v) for v in start)}  score {score:.4f}")
    print(f"selection folder: {args.output}\nview: python -m pytc.view --run {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
