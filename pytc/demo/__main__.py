"""The main job on the embedded sample: python -m pytc.demo [--minutes M] [--output DIR]

Trains the `demo` config (a small 3D U-Net predicting affinities) on the gala FIB-SEM train volume for a time
budget, predicts the test volume, agglomerates it at a sweep of thresholds and prints adapted Rand error and
VOI next to those of the boundary map shipped with the data, decoded the same way.
`python -m pytc.demo --kernels [...]` runs the kernel throughput demo instead (see its --help).
"""

import sys
import time

from pytc.cli import command_parser


def parse_args(argv=None):
    parser = command_parser("python -m pytc.demo", __doc__)
    parser.add_argument(
        "--minutes", type=float, default=None, help="training time budget (default: the demo config's, 5 minutes)"
    )
    parser.add_argument("--output", help="run folder (default: runs/demo-<date>-<time>)")
    parser.add_argument("--num-proc", type=int, default=1, help="training processes on the CPU (default: 1)")
    parser.add_argument("--kernels", action="store_true", help="run the kernel throughput demo instead")
    args, rest = parser.parse_known_args(argv)
    if not args.kernels and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.minutes is not None and args.minutes <= 0:
        parser.error(f"--minutes must be > 0; got {args.minutes}")
    return args, rest


def score_table(affinities, gt, thresholds, scoring):
    """[(threshold, adapted Rand error, VOI split, VOI merge)] of `agglomerate` at each threshold."""
    from pytc.kernels import agglomerate
    from pytc.metrics import adapted_rand, voi

    segmentations = agglomerate(affinities, thresholds, scoring=scoring)
    return [(t, adapted_rand(seg, gt), *voi(seg, gt)) for t, seg in zip(thresholds, segmentations)]


def save_predictions(run_dir, affinities, threshold, scoring, sample):
    """Writes the test volume's affinities and its segmentation at `threshold` to RUN/predictions/test.h5,
    naming the image and ground truth they belong to, for `python -m pytc.view --run RUN`."""
    import numpy as np

    from pytc.data.io import SOURCE_IMAGE_ATTR, SOURCE_LABEL_ATTR, set_attributes, write_volume
    from pytc.kernels import agglomerate

    path = run_dir / "predictions" / "test.h5"
    path.parent.mkdir(exist_ok=True)
    affinities = np.ascontiguousarray(affinities[:3])
    segmentation = agglomerate(affinities, [threshold], scoring=scoring)[0]
    write_volume(path, affinities, "affinities")
    write_volume(path, segmentation, f"segmentation_{threshold:g}", mode="a")
    for name in ("affinities", f"segmentation_{threshold:g}"):
        set_attributes(path, name, {SOURCE_IMAGE_ATTR: f"{sample}:test/image", SOURCE_LABEL_ATTR: f"{sample}:test/gt"})
    return path


def main(argv=None):
    args, rest = parse_args(argv)
    if args.kernels:
        from .kernels import main as kernels_main

        return kernels_main(rest)
    import numpy as np

    from pytc.config import ConfigError, load_config
    from pytc.data import read_volume
    from pytc.decode import boundary_to_affinity
    from pytc.inference import predict
    from pytc.train import train
    from pytc.train.run import SAMPLE_DIR

    sample = SAMPLE_DIR / "gala_fibsem_mini.h5"
    output = args.output or f"runs/demo-{time.strftime('%Y%m%d-%H%M%S')}"
    overrides = [("output", output), ("system.num_proc", args.num_proc)]
    if args.minutes is not None:
        overrides.append(("solver.minutes", args.minutes))
    try:
        cfg = load_config("demo", overrides)
        print(
            f"pytc demo: training a {cfg.model.name} on the gala FIB-SEM train volume for {cfg.solver.minutes:g} "
            f"minutes on the CPU (run folder {output})",
            flush=True,
        )
        start = time.perf_counter()
        run_dir, _ = train(cfg, name="demo")
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    trained = time.perf_counter() - start

    start = time.perf_counter()
    affinities = predict(run_dir, f"{sample}:test/image", which="last")  # the final weights
    predicted = time.perf_counter() - start
    gt = read_volume(sample, "test/gt")
    thresholds = list(cfg.val.thresholds)
    scoring = cfg.val.scoring
    ours = score_table(np.ascontiguousarray(affinities[:3]), gt, thresholds, scoring)
    shipped = score_table(boundary_to_affinity(read_volume(sample, "test/p1")), gt, thresholds, scoring)

    print(f"\nTest volume (50x100x200): watershed and agglomeration ({scoring}) at each threshold;")
    print("adapted Rand error; VOI split, merge (lower is better):")
    print(f"{'threshold':>9}  {'trained model':>28}  {'shipped boundary map':>28}")
    for (t, a, s, m), (_, a2, s2, m2) in zip(ours, shipped):
        print(f"{t:9.2f}  {a:10.4f}; {s:6.3f}, {m:6.3f}   {a2:10.4f}; {s2:6.3f}, {m2:6.3f}")
    best, base = min(ours, key=lambda r: r[1]), min(shipped, key=lambda r: r[1])
    verdict = "beats" if best[1] < base[1] else "does not beat"
    print(
        f"\nBest adapted Rand error: trained model {best[1]:.4f} (threshold {best[0]:g}, VOI "
        f"{best[2] + best[3]:.3f}) {verdict} the shipped boundary map {base[1]:.4f} (threshold {base[0]:g}, VOI "
        f"{base[2] + base[3]:.3f})."
    )
    print(
        f"Training {trained / 60:.1f} min, prediction {predicted:.1f} s. Final weights (the last checkpoint) were "
        f"scored; the run's validation used this test volume too."
    )
    predictions = save_predictions(run_dir, affinities, best[0], scoring, sample)
    print(f"Run folder: {run_dir}\nTensorBoard: tensorboard --logdir {run_dir / 'tensorboard'}")
    print(f"Predictions: {predictions}\nViewer: python -m pytc.view --run {run_dir}   (pip install 'pytc[view]')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
