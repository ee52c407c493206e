"""The config reference, generated from the schema: `python -m pytc.config docs` (docs/config.md holds a copy)."""

import dataclasses
import inspect
import json
import typing

from .loader import _describe, _fields, _optional
from .schema import Config


def _default(f):
    if f.default is not dataclasses.MISSING:
        value = f.default
    else:
        value = f.default_factory()
        if dataclasses.is_dataclass(value):
            return ""
        if isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            value = [dataclasses.asdict(v) for v in value]
    return "`" + json.dumps(value) + "`"


def _sections(cls, prefix=""):
    """(dotted section name, class) for `cls` and every section nested in it, depth first."""
    out = [(prefix, cls)]
    for name, (annotation, _) in _fields(cls).items():
        inner, _ = _optional(annotation)
        if typing.get_origin(inner) is list and dataclasses.is_dataclass(typing.get_args(inner)[0]):
            inner, name = typing.get_args(inner)[0], name + ".N"
        if dataclasses.is_dataclass(inner):
            out += _sections(inner, f"{prefix}{name}.")
    return out


def _bounds(meta):
    low, high = meta.get("low"), meta.get("high")
    if low is None and high is None:
        return ""
    left = f"[{low}" if low is not None else "(-inf"
    right = f"{high}]" if high is not None else "inf)"
    return f" Range: {left}, {right}."


def markdown():
    """The reference of every config key, as Markdown."""
    lines = [
        "# Config reference",
        "",
        "Generated from `pytc/config/schema.py` by `python -m pytc.config docs`; do not edit by hand.",
        "A config file states only what differs from these defaults; `base: NAME_OR_PATH` inherits from",
        "another file or a shipped config, and `key=value` arguments override both.",
        "",
    ]
    for prefix, cls in _sections(Config):
        title = prefix.rstrip(".") or "top level"
        lines += [
            f"## `{title}`" if prefix else "## Top level",
            "",
            inspect.cleandoc(cls.__doc__ or ""),
            "",
            "| key | type | default | meaning |",
            "|---|---|---|---|",
        ]
        for name, (annotation, f) in _fields(cls).items():
            doc = (f.metadata.get("doc", "") + _bounds(f.metadata)).replace("|", "\\|")
            kind = _describe(annotation).replace("|", "\\|")
            lines.append(f"| `{prefix}{name}` | {kind} | {_default(f)} | {doc} |")
        lines.append("")
    return "\n".join(lines)
