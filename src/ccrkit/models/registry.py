"""Encoders by name: a config section `{name: ..., <that encoder's parameters>}` builds one.

Each entry is an encoder class with a `config_class` dataclass (its parameters, validated with
`ccrkit.config.build`) and `from_config(config, context)`. Plug-ins register more with
`@TEXT_ENCODERS.register("name")` at the class (the registries live in `models.base`; importing
`ccrkit.models` registers the built-in encoders); heavy libraries are imported only when an entry
is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ccrkit.config import ConfigError, Sources, build, to_dict
from ccrkit.models.base import (
    TEXT_ENCODERS,
    VISUAL_ENCODERS,
    BuildContext,
    TextEncoder,
    VisualEncoder,
)
from ccrkit.registry import Registry

ENCODER_SECTIONS: dict[str, Registry] = {
    "text_encoder": TEXT_ENCODERS,
    "visual_encoder": VISUAL_ENCODERS,
}


def split_section(section: Mapping[str, Any], prefix: str, source: str) -> tuple[str, dict]:
    """`{name: x, a: 1}` -> ("x", {a: 1}); a section without a name is a config error."""
    params = dict(section)
    name = params.pop("name", None)
    if not name:
        raise ConfigError(f"{source}: '{prefix}.name' is required (which {prefix} to use)")
    return str(name), params


@dataclass(frozen=True)
class ResolvedEncoder:
    """An encoder section resolved once: the registered class and its typed config. Building it
    (`build`) is what loads weights; resolving only checks the section.

    Example::

        text = resolve_encoder({"name": "hf", "path": "models/world-mbert"}, "text_encoder")
        text.config.max_length  # 64, the default filled in
        encoder = text.build(BuildContext(visual_dim=256))
    """

    section: str  # "text_encoder" or "visual_encoder"
    name: str
    entry: type
    config: Any  # the entry's own `config_class` instance

    def build(self, context: BuildContext) -> Any:
        return self.entry.from_config(self.config, context)

    def as_section(self) -> dict[str, Any]:
        """The section as a config holds it, every default filled in."""
        return {"name": self.name, **to_dict(self.config)}


def resolve_plugin(
    section: Mapping[str, Any], prefix: str, registry: Registry, sources: str | Sources = "config"
) -> tuple[str, Any, Any]:
    """(name, registered entry, its typed config) of plug-in section `prefix` (`{name: ...,
    <parameters>}`), checked against the entry's `config_class`; an unknown name or key names
    the file or override that set it (`sources`). Methods and encoders resolve through this."""
    where = sources.of(prefix) if isinstance(sources, Sources) else sources
    name, params = split_section(section, prefix, where)
    try:
        entry = registry.get(name)
    except ConfigError as err:
        label = sources.of(f"{prefix}.name") if isinstance(sources, Sources) else sources
        raise ConfigError(f"{label}: '{prefix}.name': {err}") from None
    return name, entry, build(entry.config_class, params, sources, prefix)


def resolve_encoder(
    section: Mapping[str, Any], prefix: str, sources: str | Sources = "config"
) -> ResolvedEncoder:
    """Section `prefix` (`text_encoder` or `visual_encoder`) resolved (`resolve_plugin`)."""
    return ResolvedEncoder(
        prefix, *resolve_plugin(section, prefix, ENCODER_SECTIONS[prefix], sources)
    )


def build_text_encoder(
    section: Mapping[str, Any], context: BuildContext, source: str = "config"
) -> TextEncoder:
    return resolve_encoder(section, "text_encoder", source).build(context)


def build_visual_encoder(
    section: Mapping[str, Any], context: BuildContext, source: str = "config"
) -> VisualEncoder:
    return resolve_encoder(section, "visual_encoder", source).build(context)
