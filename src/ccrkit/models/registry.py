"""Encoders by name: a config section `{name: ..., <that encoder's parameters>}` builds one.

Each entry is an encoder class with a `config_class` dataclass (its parameters, validated with
`ccrkit.config.build`) and `from_config(config, context)`. Plug-ins register more with
`@TEXT_ENCODERS.register("name")` at the class (the registries live in `models.base`; importing
`ccrkit.models` registers the built-in encoders); heavy libraries are imported only when an entry
is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccrkit.config import ConfigError, build
from ccrkit.models.base import (
    TEXT_ENCODERS,
    VISUAL_ENCODERS,
    BuildContext,
    TextEncoder,
    VisualEncoder,
)


def split_section(section: Mapping[str, Any], prefix: str, source: str) -> tuple[str, dict]:
    """`{name: x, a: 1}` -> ("x", {a: 1}); a section without a name is a config error."""
    params = dict(section)
    name = params.pop("name", None)
    if not name:
        raise ConfigError(f"{source}: '{prefix}.name' is required (which {prefix} to use)")
    return str(name), params


def build_text_encoder(
    section: Mapping[str, Any], context: BuildContext, source: str = "config"
) -> TextEncoder:
    name, params = split_section(section, "text_encoder", source)
    entry = TEXT_ENCODERS.get(name)
    return entry.from_config(build(entry.config_class, params, source, "text_encoder"), context)


def build_visual_encoder(
    section: Mapping[str, Any], context: BuildContext, source: str = "config"
) -> VisualEncoder:
    name, params = split_section(section, "visual_encoder", source)
    entry = VISUAL_ENCODERS.get(name)
    return entry.from_config(build(entry.config_class, params, source, "visual_encoder"), context)
