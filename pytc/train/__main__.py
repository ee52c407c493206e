"""Train a model: python -m pytc.train --config CONFIG [options] [KEY=VALUE ...]

CONFIG is a YAML file or a shipped config (demo, neurons, mitochondria, synapse). KEY=VALUE arguments
override it, e.g. solver.lr=0.01 data.sample_shape=[18,160,160]. Everything about the run goes into its
folder (--output, default runs/<config name>): the resolved config, checkpoints, logs and TensorBoard events.
"""

import os
import sys
from pathlib import Path

from pytc.cli import command_parser


def parse_args(argv=None):
    parser = command_parser("python -m pytc.train", __doc__)
    parser.add_argument("--config", help="YAML file or shipped config name (default with --resume: the run's)")
    parser.add_argument("--num-gpu", type=int, help="GPUs, one process each (DDP over NCCL)")
    parser.add_argument("--num-proc", type=int, help="processes on the CPU (DDP over gloo)")
    parser.add_argument("--output", help="run folder (default: runs/<config name>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --output from its last checkpoint")
    parser.add_argument("--checkpoint", help="start from the model weights of this checkpoint (fine-tuning)")
    parser.add_argument(
        "--inference",
        action="store_true",
        help="predict the config's inference.image volumes with "
        "the run's best checkpoint into its folder, instead of training",
    )
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    return parser.parse_args(argv)


def resolve_config(args):
    """The config of the command line: file (or the run's config.yaml with --resume), flags, overrides."""
    from pytc.config import ConfigError, load_config

    config = args.config
    if config is None:
        if not ((args.resume or args.inference) and args.output):
            raise ConfigError(
                "--config is required (a YAML file or a shipped config: demo, neurons, mitochondria, "
                "synapse), except with --resume or --inference and --output RUN"
            )
        config = Path(args.output) / "config.yaml"
        if not config.is_file():
            raise ConfigError(f"{config} does not exist; give --config")
    overrides = list(args.overrides)
    for flag, key in (("num_gpu", "system.num_gpu"), ("num_proc", "system.num_proc"), ("output", "output")):
        if getattr(args, flag) is not None:
            overrides.append((key, getattr(args, flag)))
    return load_config(config, overrides), Path(config).stem


def predict_run(cfg, name):
    """`--inference`: every volume of `inference.image` predicted with the run's best checkpoint, into
    RUN/predictions/<volume name>.zarr (dataset 'prediction')."""
    from pytc.config import ConfigError
    from pytc.data import split_dataset
    from pytc.inference.run import run_inference
    from pytc.train.run import expand_path

    run_dir = Path(cfg.output or Path("runs") / name)
    if not cfg.inference.image:
        raise ConfigError("--inference: `inference.image` is empty; set it, e.g. inference.image=[test.h5:raw]")
    for i, text in enumerate(cfg.inference.image):
        image = expand_path(text, f"inference.image.{i}")
        output = run_dir / "predictions" / f"{Path(split_dataset(image)[0]).stem}.zarr"
        output.parent.mkdir(parents=True, exist_ok=True)
        try:
            run_inference(
                run_dir,
                image,
                f"{output}:prediction",
                num_gpu=cfg.system.num_gpu,
                tta=cfg.inference.tta,
                chunk=cfg.inference.chunk,
                dtype=cfg.inference.dtype,
            )
        except (ValueError, KeyError, FileNotFoundError, RuntimeError) as e:
            raise ConfigError(f"--inference: {e.args[0] if isinstance(e, KeyError) else e}") from None
        print(f"predicted {image} -> {output}:prediction", file=sys.stderr)
    return 0


def main(argv=None):
    args = parse_args(argv)
    from pytc.config import ConfigError, dump_config

    try:
        cfg, name = resolve_config(args)
        if args.print_config:
            print(dump_config(cfg), end="")
            return 0
        if args.inference:
            return predict_run(cfg, name)
        from pytc.train import train

        run_dir, _metrics = train(cfg, name=name, resume=args.resume, init_weights=args.checkpoint)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", 0)) == 0:  # torchrun starts this command once per process
        print(f"run folder: {run_dir}\nTensorBoard: tensorboard --logdir {run_dir / 'tensorboard'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
