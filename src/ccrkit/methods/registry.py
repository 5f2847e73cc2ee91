"""Methods by name: the run config's `method:` section (`name` + that method's parameters)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ccrkit.config import ConfigError, Sources, build, to_dict
from ccrkit.methods.base import Method
from ccrkit.methods.baseline import Baseline
from ccrkit.methods.cl2cm import Cl2cm
from ccrkit.methods.nrccr import Nrccr
from ccrkit.methods.nrf import Nrf
from ccrkit.methods.one_to_k import OneToK
from ccrkit.models.base import BuildContext
from ccrkit.models.registry import (
    TEXT_ENCODERS,
    VISUAL_ENCODERS,
    build_text_encoder,
    build_visual_encoder,
    split_section,
)
from ccrkit.registry import Registry, import_plugins

METHODS: Registry[type[Method]] = Registry("method")
METHODS.register("baseline")(Baseline)
METHODS.register("nrccr")(Nrccr)
METHODS.register("nrf")(Nrf)
METHODS.register("cl2cm")(Cl2cm)
METHODS.register("one_to_k")(OneToK)


def build_method(
    config: Mapping[str, Any], context: BuildContext, source: str = "config"
) -> Method:
    """A method from a run config's `text_encoder`, `visual_encoder` and `method` sections.

    The method section is validated against the method's own dataclass first, so a typo there is
    reported before any encoder (and its weights) is loaded.
    """
    name, params = split_section(config["method"], "method", source)
    entry = METHODS.get(name)
    method_config = build(entry.config_class, params, source, "method")
    text = build_text_encoder(config["text_encoder"], context, source)
    visual = build_visual_encoder(config["visual_encoder"], context, source)
    return entry(method_config, text, visual)


def required_roles(section: Mapping[str, Any], source: str = "config") -> dict[str, str]:
    """The caption roles the configured method needs (`Method.required_roles`), with hints."""
    name, params = split_section(section, "method", source)
    entry = METHODS.get(name)
    return entry.required_roles(build(entry.config_class, params, source, "method"))


def check_training_data(
    section: Mapping[str, Any], spec: Any, root: Any, split: str, langs: list[str],
    source: str = "config",
) -> None:  # fmt: skip
    """The configured method's own check of the training files (`Method.check_training_data`)."""
    name, params = split_section(section, "method", source)
    entry = METHODS.get(name)
    config = build(entry.config_class, params, source, "method")
    entry.check_training_data(config, spec, Path(root), split, list(langs))


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
