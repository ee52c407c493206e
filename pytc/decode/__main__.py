"""Decode predictions into instances: python -m pytc.decode {affinity,mutex,binary-contour,polarity} --input
PATH[:DATASET] --output PATH[:DATASET] [options]

The input is a prediction (C, Z, Y, X) of probabilities (float in [0, 1], or uint8 as `pytc.infer --dtype uint8`
writes), read whole. Examples:
  python -m pytc.decode affinity --input pred.zarr:prediction --output seg.h5:seg --thresholds 0.2 0.4
  python -m pytc.decode binary-contour --input mito.h5:prediction --output mito-seg.h5:seg --channels 0 1
"""

import argparse
import sys

import numpy as np

from pytc.cli import command_parser


def _offsets(text):
    try:
        return [tuple(int(v) for v in item.split(",")) for item in text.split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"offsets must look like '-1,0,0 0,-1,0 0,0,-1'; got {text!r}") from None


def parse_args(argv=None):
    parser = command_parser("python -m pytc.decode", __doc__)
    kinds = parser.add_subparsers(dest="kind", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--input", required=True, help="prediction, PATH[:DATASET]")
    common.add_argument("--output", required=True, help="segmentation, PATH[:DATASET]")
    affinity = kinds.add_parser("affinity", parents=[common], help="watershed and agglomeration of affinities")
    affinity.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        default=[0.5],
        help="agglomeration thresholds; several write DATASET_<threshold> each (zarr, HDF5)",
    )
    affinity.add_argument("--scoring", default="quantile-50-histogram", help="agglomeration scoring")
    affinity.add_argument("--channel", type=int, default=0, help="first of the three nearest-neighbour channels")
    mutex = kinds.add_parser("mutex", parents=[common], help="mutex watershed with long-range offsets")
    mutex.add_argument("--offsets", type=_offsets, required=True, help="one offset per channel: '-1,0,0 0,-1,0 ...'")
    mutex.add_argument("--strides", type=int, nargs=3, default=[1, 1, 1], help="sub-sampling of repulsive edges")
    binary = kinds.add_parser(
        "binary-contour",
        parents=[common],
        help="foreground and contour (and distance) to instances by seeded watershed",
    )
    binary.add_argument(
        "--channels", type=int, nargs="+", default=[0, 1], help="foreground, contour[, distance] channels"
    )
    binary.add_argument("--seed-threshold", type=float, default=0.9)
    binary.add_argument("--contour-threshold", type=float, default=0.8)
    binary.add_argument("--foreground-threshold", type=float, default=0.85)
    binary.add_argument("--distance-threshold", type=float, default=0.5)
    binary.add_argument("--min-seed-size", type=int, default=32)
    binary.add_argument("--min-size", type=int, default=128)
    polarity = kinds.add_parser("polarity", parents=[common], help="pre/post/synapse channels to synaptic partners")
    polarity.add_argument("--channel", type=int, default=0, help="first of the pre, post, synapse channels")
    polarity.add_argument("--threshold", type=float, default=0.5)
    polarity.add_argument("--min-size", type=int, default=0)
    return parser.parse_args(argv)


def decode(args, prediction):
    """[(dataset suffix, segmentation)] for the parsed arguments."""
    from pytc import decode
    from pytc.kernels import mutex_watershed

    if args.kind == "affinity":
        affinities = prediction[args.channel : args.channel + 3]
        segmentations = decode.affinities_to_segmentation(affinities, args.thresholds, scoring=args.scoring)
        suffixes = [""] if len(args.thresholds) == 1 else [f"_{t:g}" for t in args.thresholds]
        return list(zip(suffixes, segmentations))
    if args.kind == "mutex":
        affinities = decode.as_probabilities(prediction[: len(args.offsets)], "mutex", "affinities")
        return [("", mutex_watershed(np.ascontiguousarray(affinities), args.offsets, strides=args.strides))]
    if args.kind == "binary-contour":
        channels = [prediction[c] for c in args.channels]
        return [
            (
                "",
                decode.binary_contour_to_instances(
                    *channels,
                    seed_threshold=args.seed_threshold,
                    contour_threshold=args.contour_threshold,
                    foreground_threshold=args.foreground_threshold,
                    distance_threshold=args.distance_threshold,
                    min_seed_size=args.min_seed_size,
                    min_size=args.min_size,
                ),
            )
        ]
    polarity = prediction[args.channel : args.channel + 3]
    return [("", decode.polarity_to_instances(polarity, args.threshold, args.min_size))]


def main(argv=None):
    args = parse_args(argv)
    from pytc.data import read_volume, split_dataset, write_volume

    try:
        prediction = read_volume(*split_dataset(args.input))
        if prediction.ndim == 3:
            prediction = prediction[np.newaxis]
        path, dataset = split_dataset(args.output)
        for suffix, segmentation in decode(args, prediction):
            name = (dataset or "segmentation") + suffix
            if suffix and not path.lower().endswith((".h5", ".hdf5", ".hdf", ".zarr", ".zr")):
                path_out = path.replace(".", f"{suffix}.", 1) if "." in path else path + suffix
                write_volume(path_out, segmentation)
            else:
                write_volume(path, segmentation, dataset=name, mode="a")
            ids = len(np.unique(segmentation)) - (segmentation == 0).any()
            print(f"{args.kind}{suffix}: {ids} instances -> {path}:{name}", file=sys.stderr)
    except (ValueError, TypeError, KeyError, FileNotFoundError) as e:
        print(f"error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
