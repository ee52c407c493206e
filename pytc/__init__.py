"""pytc: fast deep-learning toolbox for connectomics.

Subpackages are imported on demand; `import pytc` alone loads nothing heavy. The compiled
numpy kernels live in `pytc.kernels` and never import torch.
"""


def _find_version() -> str:
    """The version that setuptools-scm derived from the git tags at build time (pytc/_version.py, written by any
    build or install), else the installed distribution's, else "0+unknown" (a checkout never built)."""
    try:
        from pytc._version import version

        return version
    except ImportError:
        pass
    from importlib import metadata

    try:
        return metadata.version("pytc")
    except metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _find_version()
