"""``python -m pytc.config``: ``show`` a resolved config, print the ``docs`` reference, ``convert`` a v1 config."""

import argparse
import sys

from .loader import ConfigError, dump_config, load_config


def _show(args):
    try:
        text = dump_config(load_config(args.config, args.overrides))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _docs(args):
    from .docs import markdown

    print(markdown())
    return 0


def main(argv=None):
    """Runs a subcommand and returns its exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["convert"]:  # it parses its own arguments
        from .convert import convert_command

        return convert_command(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m pytc.config", description="pytc's configs.")
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("show", help="print a resolved config (schema defaults, file, overrides)")
    show.add_argument("config", help="a shipped config name or a YAML path")
    show.add_argument("overrides", nargs="*", help="key=value overrides, e.g. solver.lr=0.01")
    show.set_defaults(run=_show)
    commands.add_parser("docs", help="print the reference of every config key (Markdown)").set_defaults(run=_docs)
    commands.add_parser("convert", help="convert a PyTorch Connectomics v1 config (convert -h for its options)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
