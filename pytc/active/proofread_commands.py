"""Commands of proofreading: `propose` (the model's instances with their merge history) and `apply` (corrections).

    python -m pytc.active propose --input RUN/predictions/test.h5:affinities --threshold 0.5 --output proposal.h5
    python -m pytc.active apply proposal.h5 ops.json --output corrected.h5:labels
    python -m pytc.active apply corrected.h5:labels more_ops.json --output corrected.h5:labels

The operations file is a JSON list (see `pytc.active.proofread`); the corrected labels are ingested
like any labels.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pytc.cli import command_parser

from ..kernels._agglomerate_scoring import VALID_SCORINGS


def _fail(command, message):
    print(f"pytc active {command}: error: {message}", file=sys.stderr)
    return 2


def propose_main(argv: Sequence[str] | None = None) -> int:
    """`python -m pytc.active propose`: affinities -> proposal file (segmentation, fragments, merge history)."""
    parser = command_parser(
        "python -m pytc.active propose",
        "Proposes instances for proofreading: agglomerates the watershed fragments of affinities at one threshold "
        "and keeps the merge history (a split then undoes merges).\n\n" + __doc__.partition("\n\n")[2],
    )
    parser.add_argument("--input", required=True, metavar="AFF_PATH[:DATASET]", help="(C >= 3, Z, Y, X) affinities")
    parser.add_argument("--threshold", required=True, type=float, help="agglomeration threshold (score < T merges)")
    parser.add_argument("--output", required=True, metavar="PROPOSAL.h5", help="the proposal (one HDF5 file)")
    parser.add_argument(
        "--scoring", default="quantile-50-histogram", help=f"agglomeration scoring, one of {', '.join(VALID_SCORINGS)}"
    )
    parser.add_argument("--fragments", metavar="PATH[:DATASET]", help="fragments (default: their watershed)")
    args = parser.parse_args(argv)
    from ..data.io import read_volume, split_dataset
    from .proofread import propose

    try:
        affinities = read_volume(*split_dataset(args.input))
        fragments = None if args.fragments is None else read_volume(*split_dataset(args.fragments))
        proposal = propose(affinities, args.threshold, scoring=args.scoring, fragments=fragments)
        proposal.save(args.output)
    except (ValueError, TypeError, OSError) as error:
        return _fail("propose", error)
    ids = np.unique(proposal.segmentation)
    print(
        f"{np.count_nonzero(ids)} segments from {len(proposal.merges)} merges -> {args.output}",
        file=sys.stderr,
    )
    return 0


def apply_main(argv: Sequence[str] | None = None) -> int:
    """`python -m pytc.active apply`: a proposal or labels and an operations file -> corrected labels."""
    parser = command_parser(
        "python -m pytc.active apply",
        "Applies proofreading operations (a JSON list) to a proposal or to labels, and writes the corrected "
        "labels with the verified ids.\n\n" + __doc__.partition("\n\n")[2],
    )
    parser.add_argument("source", metavar="PROPOSAL_OR_LABELS", help="proposal.h5 or labels PATH[:DATASET]")
    parser.add_argument("operations", metavar="OPS.json", help="the operations (JSON list)")
    parser.add_argument("--output", required=True, metavar="PATH[:DATASET]", help="the corrected labels")
    args = parser.parse_args(argv)
    from .proofread import Proposal, apply_operations, is_proposal, load_corrected, load_operations

    try:
        source = Proposal.load(args.source) if is_proposal(args.source) else load_corrected(args.source)
        operations = load_operations(args.operations)
        corrected = apply_operations(source, operations, base_dir=Path(args.operations).parent)
        corrected.save(args.output)
    except (ValueError, TypeError, OSError) as error:
        return _fail("apply", error)
    print(
        f"{len(operations)} operations, {len(corrected.verified)} verified ids -> {args.output}",
        file=sys.stderr,
    )
    return 0
