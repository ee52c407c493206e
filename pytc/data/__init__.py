"""Volume I/O, training datasets and training targets."""

from .io import open_volume, read_volume, write_volume

__all__ = ["open_volume", "read_volume", "write_volume"]
