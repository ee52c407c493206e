"""Simulated active learning on real data: python -m pytc.active simulate --task neurons|mitochondria
--output DIR [options]

An oracle reveals the ground truth of the patches each strategy picks; after every round the model is
fine-tuned on what is labelled and scored on a held-out volume. Writes DIR/results.json (every round of every
strategy and seed, and a summary: mean curves and the annotation each strategy needs to reach random
selection's final accuracy, as a fraction of random's); --plot writes the curves as a PNG (needs matplotlib).
Reads the real data folder ($PYTC_DATA, or --data).

examples:
  python -m pytc.active simulate --task neurons --output runs/al-neurons --seeds 0 1 2 --plot curves.png
  python -m pytc.active simulate --task mitochondria --strategies random uncertainty --rounds 3 --output ...
  python -m pytc.active simulate --plot curves.png --from runs/al-neurons runs/al-mito   # plot earlier results
(--from joins the runs of one task, e.g. more seeds.)
"""

import json
import sys
from pathlib import Path

from pytc.cli import command_parser


def parse_args(argv=None):
    from .simulate import TASKS
    from .strategies import STRATEGIES

    parser = command_parser("python -m pytc.active simulate", __doc__)
    parser.add_argument("--task", choices=TASKS)
    parser.add_argument("--output", help="work folder (results.json, the runs of every round)")
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=["random", "uncertainty", "coreset", "diversity"],
        choices=STRATEGIES.names(),
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--budget", type=int, default=3, help="patches picked per round")
    parser.add_argument("--seed-patches", type=int, default=2, help="random patches labelled at the start")
    parser.add_argument("--iterations", type=int, default=60, help="fine-tuning iterations per round")
    parser.add_argument("--first-iterations", type=int, help="training iterations on the seed (default: 2x)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", help="real data folder (default: $PYTC_DATA, else ../shared/data)")
    parser.add_argument("--plot", help="write the curves as PNG")
    parser.add_argument("--from", dest="sources", nargs="+", default=[], help="plot these work folders' results")
    args = parser.parse_args(argv)
    if not args.sources and not (args.task and args.output):
        parser.error("give --task and --output (or --from with --plot)")
    return args


def merge_results(results):
    """Results of one task from several runs (e.g. more seeds) as one: records joined, summary recomputed."""
    from .simulate import summarize

    merged = {}
    for result in results:
        if result["task"] in merged:
            merged[result["task"]]["records"] += result["records"]
        else:
            merged[result["task"]] = dict(result, records=list(result["records"]))
    for result in merged.values():
        result["summary"] = summarize(result["records"])
    return list(merged.values())


def main(argv=None):
    args = parse_args(argv)
    from .simulate import plot, simulate

    try:
        if args.sources:
            results = merge_results([json.loads((Path(s) / "results.json").read_text()) for s in args.sources])
        else:
            results = [
                simulate(
                    args.task,
                    args.output,
                    args.strategies,
                    args.seeds,
                    args.rounds,
                    args.budget,
                    args.seed_patches,
                    args.iterations,
                    args.first_iterations,
                    args.threads,
                    args.data,
                )
            ]
        for result in results:
            print(f"\n{result['task']} ({result['metric']}), mean over seeds per round:")
            for strategy, entry in result["summary"].items():
                points = "  ".join(f"{p['voxels'] / 1e3:.0f}k: {p['score']:.4f}" for p in entry["curve"])
                fraction = entry.get("fraction_of_random_annotation")
                reach = "not reached" if fraction is None else f"{fraction:.0%} of random's annotation"
                print(f"  {strategy:>11}  {points}   reaches random's final accuracy with {reach}")
        if args.plot:
            plot(results, args.plot)
            print(f"plot: {args.plot}")
    except (FileNotFoundError, ValueError, TypeError, KeyError, ImportError) as e:
        print(f"pytc active simulate: error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
