"""Methods by name: the run config's `method:` section (`name` + that method's parameters).

`METHODS` lives in `methods.base`; each method registers itself at its definition and
`ccrkit.methods` (imported before this module) imports the built-in ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccrkit.config import ConfigError, Sources, build, to_dict
from ccrkit.data.spec import DataSpec
from ccrkit.methods.base import METHODS, Method
from ccrkit.models.base import BuildContext, TextEncoder, VisualEncoder
from ccrkit.models.registry import (
    TEXT_ENCODERS,
    VISUAL_ENCODERS,
    build_text_encoder,
    build_visual_encoder,
    split_section,
)
from ccrkit.registry import import_plugins


@dataclass(frozen=True)
class ResolvedMethod:
    """A run config's `method:` section resolved once: the registered class and its typed config.

    Example::

        method = resolve_method({"name": "nrccr", "back_translation": False})
        method.required_roles()  # {'mt': 'NRCCR learns from machine translations ...'}
    """

    name: str
    entry: type[Method]
    config: Any  # the entry's own `config_class` instance

    def required_roles(self) -> dict[str, str]:
        """The caption roles this configuration needs (`Method.required_roles`), with hints."""
        return self.entry.required_roles(self.config)

    def check_training_data(
        self, spec: DataSpec, root: str | Path, split: str, langs: list[str]
    ) -> None:
        """The method's own check of the training files (`Method.check_training_data`)."""
        self.entry.check_training_data(self.config, spec, Path(root), split, list(langs))

    def build(self, text: TextEncoder, visual: VisualEncoder) -> Method:
        return self.entry(self.config, text, visual)


def resolve_method(section: Mapping[str, Any], source: str = "config") -> ResolvedMethod:
    """The method section checked against its class's dataclass (a typo names `source`)."""
    name, params = split_section(section, "method", source)
    entry = METHODS.get(name)
    return ResolvedMethod(name, entry, build(entry.config_class, params, source, "method"))


def build_method(
    config: Mapping[str, Any], context: BuildContext, source: str = "config"
) -> Method:
    """A method from a run config's `text_encoder`, `visual_encoder` and `method` sections.

    The method section is validated against the method's own dataclass first, so a typo there is
    reported before any encoder (and its weights) is loaded.
    """
    method = resolve_method(config["method"], source)
    text = build_text_encoder(config["text_encoder"], context, source)
    visual = build_visual_encoder(config["visual_encoder"], context, source)
    return method.build(text, visual)


def required_roles(section: Mapping[str, Any], source: str = "config") -> dict[str, str]:
    """The caption roles the configured method needs (`Method.required_roles`), with hints."""
    return resolve_method(section, source).required_roles()


def resolve_sections(config: Any, sources: str | Sources = "config") -> dict[str, dict[str, Any]]:
    """A run config's plug-in sections (`method`, `text_encoder`, `visual_encoder`), each checked
    against its implementation's dataclass and returned with every default filled in.

    Run before anything is loaded: a wrong key or name is reported with the file or override that
    set it (`sources`, from `load_config_sources`), not later as a bare 'config' error.
    """
    import_plugins(config.plugins)
    tables = {"method": METHODS, "text_encoder": TEXT_ENCODERS, "visual_encoder": VISUAL_ENCODERS}
    resolved = {}
    for prefix, table in tables.items():
        where = sources.of(prefix) if isinstance(sources, Sources) else sources
        name, params = split_section(getattr(config, prefix), prefix, where)
        try:
            entry = table.get(name)
        except ConfigError as err:
            label = sources.of(f"{prefix}.name") if isinstance(sources, Sources) else sources
            raise ConfigError(f"{label}: '{prefix}.name': {err}") from None
        filled = build(entry.config_class, params, sources, prefix)
        resolved[prefix] = {"name": name, **to_dict(filled)}
    return resolved
