"""Loading of the compiled extension `pytc._ext`, with errors that say what to do."""

import importlib
from pathlib import Path

TROUBLESHOOTING = "TROUBLESHOOTING.md"


class ExtensionError(ImportError, RuntimeError):
    """The compiled extension is missing or cannot be loaded.

    Both an ImportError (so optional-import patterns keep working) and a RuntimeError.
    """


def _in_source_tree():
    package = Path(__file__).resolve().parent
    return (package.parent / "setup.py").is_file() and (package.parent / "csrc").is_dir()


def explain(name, error):
    """A message for an ImportError raised while importing the compiled module `name`."""
    text = str(error)
    if isinstance(error, ModuleNotFoundError) and error.name == name:
        hint = (
            f"{name} is not built. Install pytc with `pip install .` (or `pip install -e .` for "
            "development), which compiles it."
        )
        if _in_source_tree():
            hint += (
                f" You are importing pytc from its source tree ({Path(__file__).resolve().parent}); "
                "a non-editable install puts the extension in site-packages, not here: use "
                "`pip install -e .`, or run from another directory."
            )
        section = "The compiled extension is missing"
    elif "numpy" in text.lower() and ("compiled" in text or "multiarray" in text or "ABI" in text):
        hint = f"{name} was built against another numpy than the one installed ({text})."
        section = "NumPy ABI mismatch after an upgrade"
    else:
        hint = f"{name} exists but failed to load: {text}."
        section = "Forcing a clean rebuild"
    return f"{hint} See '{section}' in {TROUBLESHOOTING}, and run `python -m pytc.doctor` for details."


def load(name="pytc._ext"):
    """Import and return the compiled module `name`, or raise ExtensionError explaining why not."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ExtensionError(explain(name, e)) from e
