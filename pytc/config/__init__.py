"""Configs: YAML files with ``base:`` inheritance and ``key=value`` overrides, checked against one typed schema.

`load_config("neurons", ["solver.lr=0.01"])` gives a `Config` whose sections are dataclasses
(``cfg.solver.lr``). Every default lives in `pytc.config.schema`; `python -m pytc.config docs` prints the
reference, `python -m pytc.config show NAME` a resolved config and `python -m pytc.config convert OLD.yaml`
converts a PyTorch Connectomics v1 config.
"""

from .loader import (
    ConfigError,
    apply_overrides,
    dump_config,
    find_config,
    from_dict,
    load_config,
    shipped_configs,
    to_dict,
)
from .schema import Config

__all__ = [
    "Config",
    "ConfigError",
    "apply_overrides",
    "dump_config",
    "find_config",
    "from_dict",
    "load_config",
    "shipped_configs",
    "to_dict",
]
