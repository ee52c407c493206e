"""Volume I/O (and, as they land, datasets and training targets)."""

from .io import read_volume, write_volume

__all__ = ["read_volume", "write_volume"]
