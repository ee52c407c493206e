"""Loading configs: YAML files with ``base:`` inheritance, dotted ``key=value`` overrides, and a check of
every key and value against the typed schema (`pytc.config.schema`)."""

import dataclasses
import difflib
import numbers
import os
import re
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .schema import Config

SHIPPED = Path(__file__).parent / "configs"


class ConfigError(ValueError):
    """A config that cannot be used; the message names the key and what to change."""


def shipped_configs() -> list[str]:
    """Names of the configs shipped with pytc (``--config NAME``)."""
    return sorted(path.stem for path in SHIPPED.glob("*.yaml"))


def find_config(name_or_path: str | os.PathLike, relative_to: str | os.PathLike | None = None) -> Path:
    """The file for a shipped config name or a path (relative to `relative_to` when given and not found)."""
    path = Path(name_or_path)
    candidates = [path] if path.is_absolute() else [Path(relative_to) / path] if relative_to else []
    candidates += [path, SHIPPED / f"{name_or_path}.yaml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"config {name_or_path!r} is neither a file nor a shipped config; shipped: {', '.join(shipped_configs())}"
    )


def read_config_file(
    name_or_path: str | os.PathLike, relative_to: str | os.PathLike | None = None, _seen: tuple = ()
) -> dict:
    """The dict of a config file with its ``base:`` files merged under it (later files win)."""
    path = find_config(name_or_path, relative_to).resolve()
    if path in _seen:
        raise ConfigError(f"config {path}: `base` inheritance loops back to itself")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must hold a mapping of keys; got {type(data).__name__}")
    bases = data.pop("base", None) or []
    merged = {}
    for base in [bases] if isinstance(bases, str) else bases:
        merged = merge(merged, read_config_file(base, path.parent, _seen + (path,)))
    return merge(merged, data)


def merge(base: dict, update: dict) -> dict:
    """`update` merged into `base`: mappings recursively, anything else (lists too) replaced."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------- checking against the schema


def _fields(cls):
    hints = typing.get_type_hints(cls)
    return {f.name: (hints[f.name], f) for f in dataclasses.fields(cls)}


def _optional(annotation):
    """(inner type, True) for Optional[T], else (annotation, False)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        return inner[0], True
    return annotation, False


_NAMES = {
    bool: ("true or false", "true/false values"),
    int: ("an integer", "integers"),
    float: ("a number", "numbers"),
    str: ("a string", "strings"),
}


def _describe(annotation, plural=False):
    annotation, optional = _optional(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if dataclasses.is_dataclass(annotation) or origin is dict:
        text = "mappings" if plural else "a mapping"
    elif origin is list:
        text = f"a list of {_describe(args[0], plural=True)}" if args else "a list"
    elif origin is typing.Literal:
        text = "one of " + ", ".join(repr(a) for a in args)
    else:
        text = _NAMES.get(annotation, ("any value", "values"))[plural]
    return text + (" or null" if optional else "")


def _fail(key, annotation, value):
    raise ConfigError(f"config: `{key}` must be {_describe(annotation)}; got {value!r}")


def check_value(key, annotation, value, meta=None):
    """`value` checked (and normalised: tuples to lists, ints to floats) against `annotation`."""
    declared = annotation
    annotation, optional = _optional(annotation)
    if value is None:
        if optional or annotation is typing.Any:
            return None
        _fail(key, declared, value)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if dataclasses.is_dataclass(annotation):
        shorthand = getattr(annotation, "SHORTHAND", None)
        if isinstance(value, str) and shorthand:
            value = {shorthand: value}
        if not isinstance(value, dict):
            _fail(key, declared, value)
        return from_dict(annotation, value, key)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            _fail(key, declared, value)
        return [check_value(f"{key}.{i}", args[0], v) for i, v in enumerate(value)] if args else list(value)
    if origin is dict:
        if not isinstance(value, dict):
            _fail(key, declared, value)
        return {str(k): check_value(f"{key}.{k}", args[1], v) for k, v in value.items()} if args else dict(value)
    if origin is typing.Literal:
        if value not in args or (isinstance(value, bool) and not any(isinstance(a, bool) for a in args)):
            close = difflib.get_close_matches(str(value), [str(a) for a in args], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"config: `{key}` must be one of {', '.join(map(repr, args))}; got {value!r}{hint}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            _fail(key, declared, value)
    elif annotation is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            _fail(key, declared, value)
        value = int(value)
    elif annotation is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            _fail(key, declared, value)
        value = float(value)
    elif annotation is str:
        if not isinstance(value, str):
            _fail(key, declared, value)
    meta = meta or {}
    low, high = meta.get("low"), meta.get("high")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"<= {high}" if low is None else f"in [{low}, {high}]"
        raise ConfigError(f"config: `{key}` must be {bounds}; got {value!r}")
    return value


def valid_keys(cls=Config, prefix=""):
    """Every dotted key of the schema (list items as ``tasks.0.target``)."""
    keys = []
    for name, (annotation, _) in _fields(cls).items():
        key = prefix + name
        keys.append(key)
        inner, _ = _optional(annotation)
        if dataclasses.is_dataclass(inner):
            keys += valid_keys(inner, key + ".")
        elif typing.get_origin(inner) is list and dataclasses.is_dataclass(typing.get_args(inner)[0]):
            keys += valid_keys(typing.get_args(inner)[0], key + ".0.")
    return keys


def _unknown(key):
    """The error for an unknown dotted key, suggesting the nearest valid one (list indices kept)."""
    indices = re.findall(r"(?<=\.)\d+(?=\.|$)", key)
    close = difflib.get_close_matches(re.sub(r"(?<=\.)\d+(?=\.|$)", "0", key), valid_keys(), n=1, cutoff=0.6)
    close = close or [k for k in valid_keys() if k.rsplit(".", 1)[-1] == key.rsplit(".", 1)[-1]][:1]
    hint = ""
    if close:
        parts = close[0].split(".0.")
        suggestion = parts[0] + "".join(f".{i}.{p}" for i, p in zip(indices + ["0"] * len(parts), parts[1:]))
        hint = f"; did you mean `{suggestion}`?"
    return ConfigError(f"config: unknown key `{key}`{hint} (python -m pytc.config docs lists every key)")


def from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    """An instance of the schema class `cls` from a dict, every key and value checked."""
    fields = _fields(cls)
    where = prefix + "." if prefix else ""
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise _unknown(where + str(unknown[0]))
    values = {
        name: check_value(where + name, fields[name][0], value, fields[name][1].metadata)
        for name, value in data.items()
    }
    return cls(**values)


def to_dict(cfg: Any) -> dict:
    """The config as plain dicts and lists (what `dump_config` writes)."""
    return dataclasses.asdict(cfg)


# --------------------------------------------------------------------------- overrides


def parse_override(text: str) -> tuple[str, Any]:
    """``"solver.lr=0.01"`` -> ("solver.lr", 0.01); the value is read as YAML (lists, null, true...)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"config: an override must look like key=value, e.g. solver.lr=0.01; got {text!r}")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError as e:
        if value.lstrip()[:1] in "[{":
            raise ConfigError(
                f"config: the value of `{key.strip()}` is not valid YAML ({getattr(e, 'problem', e)}): "
                f"{value}; quote strings inside it, e.g. ['${{HOME}}/a.h5:raw']"
            ) from None
        parsed = value
    return key.strip(), parsed


def _set(node, annotation, parts, value, done):
    key = ".".join(done + parts[:1])
    annotation, _ = _optional(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    head, rest = parts[0], parts[1:]
    if dataclasses.is_dataclass(annotation):
        fields = _fields(annotation)
        if head not in fields:
            raise _unknown(".".join(done + parts))
        child = fields[head][0]
        if not rest:
            node[head] = value
            return
        if node.get(head) is None:
            node[head] = {} if typing.get_origin(_optional(child)[0]) is dict else node.get(head)
        _set(node[head], child, rest, value, done + [head])
    elif origin is list:
        if not head.isdigit() or int(head) >= len(node):
            raise ConfigError(
                f"config: `{key}`: `{'.'.join(done)}` has {len(node)} entries, so the index must be "
                f"0 to {len(node) - 1}; got {head}"
            )
        if not rest:
            node[int(head)] = value
        else:
            _set(node[int(head)], args[0], rest, value, done + [head])
    elif origin is dict:
        if not rest:
            node[head] = value
        else:
            node.setdefault(head, {})
            _set(node[head], args[1], rest, value, done + [head])
    else:
        raise ConfigError(f"config: `{'.'.join(done)}` is a single value; `{key}` does not exist")


def apply_overrides(cfg: Config, overrides: Iterable[str | tuple[str, Any]]) -> Config:
    """A new config with ``key=value`` strings (or (key, value) pairs) applied in order, then checked."""
    data = to_dict(cfg)
    for override in overrides:
        key, value = parse_override(override) if isinstance(override, str) else override
        _set(data, Config, key.split("."), value, [])
    return from_dict(Config, data)


def load_config(config: str | os.PathLike | None = None, overrides: Iterable[str | tuple[str, Any]] = ()) -> Config:
    """The resolved config: schema defaults, then the file (a path or a shipped name) with its bases, then
    the overrides. Raises ConfigError with the key and a suggestion for anything invalid.

    Examples
    --------
    >>> cfg = load_config("neurons", ["solver.lr=0.01", "data.sample_shape=[18,128,128]"])
    >>> cfg.solver.lr, cfg.data.sample_shape
    (0.01, [18, 128, 128])
    """
    data = read_config_file(config) if config is not None else {}
    return apply_overrides(from_dict(Config, data), overrides)


def dump_config(cfg: Config) -> str:
    """The config as YAML text (block style, keys in schema order)."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=None, width=110)
