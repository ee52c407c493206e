"""Active learning and semi-automatic annotation: python -m pytc.active COMMAND [ARGS]

commands:
  select    pick the patches of a pool volume to annotate next (uncertainty, coreset, diversity, random, ...)
  ingest    take the labels of a selection back (a label volume, or an annotator's per-patch file)
  propose   the model's instances with their agglomeration merge history, for proofreading
  apply     apply proofreading operations (merge, split by merge history, paint, erase, correct)
  simulate  simulated annotation rounds on real data (an oracle labels the picks): strategy against strategy

`python -m pytc.active COMMAND --help` for each command's options.
"""

import importlib
import sys

COMMANDS = {
    "select": ("pytc.active.select_command", "pick the patches of a pool volume to annotate next"),
    "ingest": ("pytc.active.ingest_command", "take the labels of a selection back, for masked fine-tuning"),
    "propose": ("pytc.active.proofread_commands:propose_main", "the model's instances with their merge history"),
    "apply": ("pytc.active.proofread_commands:apply_main", "apply proofreading operations: corrected labels"),
    "simulate": ("pytc.active.simulate_command", "simulated annotation rounds on real data, strategy against strategy"),
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        print(f"pytc active: unknown command {argv[0]!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module, _, function = COMMANDS[argv[0]][0].partition(":")
    return getattr(importlib.import_module(module), function or "main")(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
