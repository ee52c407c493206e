"""Ingest the labels of a selection: python -m pytc.active ingest SEL LABELS [--output SEL/labels.h5]

SEL is a selection folder (`python -m pytc.active select`: manifest.json names the pool and the patches). LABELS is
either a volume of the pool's shape (PATH[:DATASET], e.g. a ground truth; only the selected patches are read) or
an HDF5 file with one group per patch, "<name>/label" of the patch's shape (what an annotator returns for
SEL/crops.h5). The output HDF5 file gets "label" (the pool's shape, ids as uint32, or uint64 when they need it; 0
outside the patches) and "mask" (uint8, 1 inside the ingested patches). Ingesting into an existing output (the
next round) adds to it; a patch ingested again (the same region) replaces its labels. Ids of different patches never collide: a
patch whose ids are already used by a patch from another source is relabelled above every id in use (patches read
from the same label volume keep their ids, so an object crossing two of them stays one object).

The command prints the fine-tuning command that trains on the ingested labels, e.g.

  python -m pytc.active ingest sel/round1 gt.h5:stack
  python -m pytc.active ingest sel/round2 annotations.h5 --output sel/round1/labels.h5
"""

import shlex
import sys
from collections.abc import Sequence

from pytc.cli import command_parser

from .ingest import IngestError, finetune_command, ingest, read_selection


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command; 0 on success, 2 with one error line on stderr."""
    parser = command_parser("python -m pytc.active ingest", __doc__)
    parser.add_argument("selection", metavar="SEL", help="selection folder (manifest.json)")
    parser.add_argument(
        "labels", metavar="LABELS", help="label volume of the pool's shape, or HDF5 file of <name>/label"
    )
    parser.add_argument("--output", help="labels file to write or add to (default SEL/labels.h5)")
    parser.add_argument("--min-valid", type=float, help="data.min_valid of the printed fine-tuning command")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or argparse's own usage error
        return e.code
    try:
        if args.min_valid is not None and not 0 <= args.min_valid <= 1:
            raise IngestError(f"--min-valid must be in [0, 1]; got {args.min_valid}")
        sel = read_selection(args.selection)
        result = ingest(sel, args.labels, args.output)
        command = finetune_command(sel, result.output, args.min_valid)
    except IngestError as e:
        print(f"pytc active ingest: error: {e}", file=sys.stderr)
        return 2
    renamed = f"; relabelled {', '.join(result.relabelled)}" if result.relabelled else ""
    print(
        f"ingested {len(result.patches)} patches into {result.output} ({result.labelled_voxels} labelled voxels, "
        f"ids up to {result.max_id}{renamed})",
        file=sys.stderr,
    )
    if command is None:
        print("the manifest names no checkpoint: train with data.train.mask=[...:mask] yourself", file=sys.stderr)
    else:
        print("fine-tune with:", file=sys.stderr)
        print(shlex.join(command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
