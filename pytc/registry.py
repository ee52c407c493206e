"""Registries: components (models, losses, targets, augmentations) that configs name by a string.

A component registers itself where it is defined; the code that builds it from a config looks the name up,
so adding one never touches a chain of branches, and an unknown name is an error that lists the known ones.

    >>> MODELS = Registry("model")
    >>> @MODELS.register("tiny")
    ... def tiny(channels=1):
    ...     return ("tiny", channels)
    >>> MODELS.get("tiny")(channels=2)
    ('tiny', 2)
    >>> MODELS.get("huge")
    Traceback (most recent call last):
    ...
    ValueError: model: `huge` is not a known model; the known ones are ['tiny']
"""

from collections.abc import Callable, Iterator
from typing import Any


class Registry:
    """A name -> object mapping filled by the `register` decorator. `kind` names the components in errors."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str | None = None) -> Callable[[Any], Any]:
        """Decorator that registers a class or function under `name` (default: its `__name__`)."""

        def add(obj: Any) -> Any:
            key = name or obj.__name__
            if key in self._entries:
                raise ValueError(f"{self.kind}: {key!r} is registered twice ({self._entries[key]!r} and {obj!r})")
            self._entries[key] = obj
            return obj

        return add

    def get(self, name: str) -> Any:
        """The object registered under `name`; ValueError listing the known names otherwise."""
        if name not in self._entries:
            raise ValueError(
                f"{self.kind}: `{name}` is not a known {self.kind}; the known ones are {sorted(self._entries)}"
            )
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {self.names()})"
