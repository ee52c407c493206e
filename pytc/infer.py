"""Predict a volume with a trained model: python -m pytc.infer --checkpoint RUN_OR_FILE --input PATH[:DATASET]
--output PATH[:DATASET] [options]

The checkpoint (a file, or a run folder: its best checkpoint) brings the model, the image normalisation, each
task's activation and the defaults of the window, overlap and batch. zarr and HDF5 outputs are written chunk by
chunk (peak memory follows --chunk, not the volume) and an interrupted run resumes where it stopped; other
formats are written whole.
"""

import sys
import time

from pytc.cli import command_parser


def parse_args(argv=None):
    parser = command_parser("python -m pytc.infer", __doc__)
    parser.add_argument("--checkpoint", required=True, help="checkpoint file or run folder")
    parser.add_argument("--input", required=True, help="image volume, PATH[:DATASET]")
    parser.add_argument("--output", required=True, help="PATH[:DATASET], e.g. pred.zarr:affinities")
    parser.add_argument(
        "--tta",
        type=int,
        nargs="?",
        const=8,
        default=1,
        choices=(1, 4, 8, 16),
        help="test-time augmentation variants (8 when given alone)",
    )
    parser.add_argument(
        "--uncertainty",
        action="store_true",
        help="also write the variance across TTA variants "
        "(DATASET_variance) and the entropy of the mean (DATASET_entropy)",
    )
    parser.add_argument("--window", type=int, nargs=3, metavar=("Z", "Y", "X"), help="default: the checkpoint's")
    parser.add_argument("--overlap", type=float, help="default: the checkpoint's (0.5)")
    parser.add_argument("--batch", type=int, help="windows per forward pass")
    parser.add_argument("--blending", choices=("gaussian", "bump", "constant"))
    parser.add_argument(
        "--crop",
        type=int,
        nargs=3,
        metavar=("Z", "Y", "X"),
        help="voxels at each window face that get no weight (the border the network cannot see)",
    )
    parser.add_argument("--chunk", type=int, nargs=3, metavar=("Z", "Y", "X"), help="default: 4 windows per axis")
    parser.add_argument("--dtype", choices=("float32", "float16", "uint8"), default="float32")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), help="on CUDA; default: the checkpoint's")
    parser.add_argument("--num-gpu", type=int, default=0, help="GPUs, one process each, splitting the chunks")
    parser.add_argument("--which", choices=("best", "last"), default="best", help="checkpoint of a run folder")
    parser.add_argument("--weights", choices=("auto", "model", "ema"), default="auto")
    return parser.parse_args(argv)


def _progress():
    start = time.perf_counter()

    def report(done, total):
        if done == total or time.perf_counter() - report.last > 10:
            report.last = time.perf_counter()
            print(f"  {done}/{total} chunks, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

    report.last = 0.0
    return report


def main(argv=None):
    args = parse_args(argv)
    from pytc.inference.run import run_inference

    try:
        start = time.perf_counter()
        written = run_inference(
            args.checkpoint,
            args.input,
            args.output,
            num_gpu=args.num_gpu,
            progress=_progress(),
            tta=args.tta,
            uncertainty=args.uncertainty,
            window=args.window,
            overlap=args.overlap,
            batch=args.batch,
            blending=args.blending,
            crop=args.crop,
            chunk=args.chunk,
            dtype=args.dtype,
            precision=args.precision,
            which=args.which,
            weights=args.weights,
        )
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    print(f"wrote {written} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
