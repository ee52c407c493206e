"""Score a segmentation against ground truth: python -m pytc.evaluate --seg PATH[:DATASET] --gt PATH[:DATASET]
[--task neuron|instance|semantic] [--json OUT.json]

neuron: adapted Rand error with Rand precision and recall, variation of information split and merge (gt 0 is
ignored). instance: average precision at IoU 0.5, 0.75 and over 0.5:0.95 (MitoEM's report; --scores gives each
predicted instance the mean of a probability volume as its confidence). semantic: IoU and Dice per class.
Prints a table; --json writes the figures (--json - prints them instead).
"""

import json
import sys

import numpy as np

from pytc.cli import command_parser

TASKS = ("neuron", "instance", "semantic")


def parse_args(argv=None):
    parser = command_parser("python -m pytc.evaluate", __doc__)
    parser.add_argument("--seg", required=True, help="segmentation, PATH[:DATASET]")
    parser.add_argument("--gt", required=True, help="ground truth, PATH[:DATASET]")
    parser.add_argument("--task", choices=TASKS, default="neuron")
    parser.add_argument("--scores", help="instance: a probability volume, PATH[:DATASET] (its first channel)")
    parser.add_argument("--json", help="write the figures as JSON to this file ('-': standard output)")
    return parser.parse_args(argv)


def instance_scores(seg, probability):
    """Mean probability of each nonzero instance of `seg`: {id: score}."""
    ids, inverse = np.unique(seg, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=np.asarray(probability, np.float64).ravel(), minlength=len(ids))
    counts = np.bincount(inverse.ravel(), minlength=len(ids))
    return {int(i): s / c for i, s, c in zip(ids, sums, counts) if i != 0}


def score(seg, gt, task="neuron", probability=None):
    """The figures of `task` as a dict (see the module docstring)."""
    from pytc.metrics import average_precision, evaluate, semantic_scores
    from pytc.validation import check_choice

    check_choice(task, "evaluate", "task", TASKS)
    if task == "neuron":
        return evaluate(seg, gt)
    if task == "instance":
        scores = instance_scores(seg, probability) if probability is not None else None
        return average_precision(seg, gt, scores=scores)
    return semantic_scores(seg, gt)


def table(figures):
    width = max(len(k) for k in figures)
    return "\n".join(
        f"{k.ljust(width)}  {v:.4f}" if isinstance(v, float) else f"{k.ljust(width)}  {v}" for k, v in figures.items()
    )


def main(argv=None):
    args = parse_args(argv)
    from pytc.data import read_volume, split_dataset

    try:
        seg, gt = read_volume(*split_dataset(args.seg)), read_volume(*split_dataset(args.gt))
        probability = None
        if args.scores:
            probability = read_volume(*split_dataset(args.scores))
            probability = probability[0] if probability.ndim == seg.ndim + 1 else probability
        figures = score(seg, gt, args.task, probability)
    except (ValueError, TypeError, KeyError, FileNotFoundError) as e:
        print(f"error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    if args.json == "-":
        print(json.dumps(figures, indent=2))
        return 0
    print(table(figures))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
