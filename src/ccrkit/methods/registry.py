"""Methods by name: the run config's `method:` section (`name` + that method's parameters).

`METHODS` lives in `methods.base`; each method registers itself at its definition and
`ccrkit.methods` (imported before this module) imports the built-in ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccrkit.config import Sources, to_dict
from ccrkit.data.spec import DataSpec
from ccrkit.methods.base import METHODS, Method
from ccrkit.models.base import BuildContext, TextEncoder, VisualEncoder
from ccrkit.models.registry import ResolvedEncoder, resolve_encoder, resolve_plugin


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


def resolve_method(section: Mapping[str, Any], source: str | Sources = "config") -> ResolvedMethod:
    """The method section checked against its class's dataclass (a typo names `source`)."""
    return ResolvedMethod(*resolve_plugin(section, "method", METHODS, source))


@dataclass(frozen=True)
class ResolvedModel:
    """A run config's three plug-in sections (`method`, `text_encoder`, `visual_encoder`) resolved
    once, right after the config is loaded: everything downstream takes this object and never
    re-reads the raw sections.

    Example::

        model = resolve_model(load_config(RunConfig, "nrccr-world"))
        model.method.required_roles()  # {'mt': ..., 'bt': ...}
        method = model.build(BuildContext(visual_dim=256))
    """

    method: ResolvedMethod
    text_encoder: ResolvedEncoder
    visual_encoder: ResolvedEncoder

    def build(self, context: BuildContext) -> Method:
        """The method with its encoders (this is where encoder weights are loaded)."""
        text = self.text_encoder.build(context)
        return self.method.build(text, self.visual_encoder.build(context))

    def sections(self) -> dict[str, dict[str, Any]]:
        """The three sections as a config holds them, every default filled in."""
        return {
            "method": {"name": self.method.name, **to_dict(self.method.config)},
            "text_encoder": self.text_encoder.as_section(),
            "visual_encoder": self.visual_encoder.as_section(),
        }


def resolve_model(config: Any, sources: str | Sources = "config") -> ResolvedModel:
    """The plug-in sections of `config` (a run config, or a mapping such as a checkpoint's saved
    config), each checked against its implementation's dataclass.

    The method comes first, so a typo there is reported before any encoder is looked at; a wrong
    key or name is reported with the file or override that set it (`sources`, from
    `load_config_sources`), not later as a bare 'config' error. Plug-in modules named in the
    config are imported by the caller (`import_plugins`), never from here.
    """

    def section(key: str) -> Mapping[str, Any]:
        return config[key] if isinstance(config, Mapping) else getattr(config, key)

    return ResolvedModel(
        resolve_method(section("method"), sources),
        resolve_encoder(section("text_encoder"), "text_encoder", sources),
        resolve_encoder(section("visual_encoder"), "visual_encoder", sources),
    )


def build_method(
    config: Mapping[str, Any], context: BuildContext, source: str = "config"
) -> Method:
    """A method from a run config's saved sections (e.g. a checkpoint's `config`): resolved
    (`resolve_model`), then built."""
    return resolve_model(config, source).build(context)


def required_roles(section: Mapping[str, Any], source: str = "config") -> dict[str, str]:
    """The caption roles the configured method needs (`Method.required_roles`), with hints."""
    return resolve_method(section, source).required_roles()
