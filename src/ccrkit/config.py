"""Typed configuration: dataclass schemas filled from YAML files and dotted command-line overrides.

OmegaConf structured configs do the parsing, merging and type checking; this module only finds the
files, supports single inheritance (`base: NAME` in a YAML file) and turns OmegaConf's errors into one
`ConfigError` that names the file (or the override), the key and what was expected.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigKeyError,
    ConfigTypeError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

T = TypeVar("T")

PACKAGE_DIR = Path(__file__).resolve().parent
BASE_KEY = "base"


class ConfigError(ValueError):
    """A configuration file or override is wrong; the message says where and what was expected."""


def config_dir() -> Path:
    """The named-config folder: `configs/` of a source checkout, or the copy inside a wheel."""
    for candidate in (PACKAGE_DIR / "_configs", PACKAGE_DIR.parent.parent / "configs"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"no configs folder found beside {PACKAGE_DIR}; reinstall ccrkit")


def available_configs(subdir: str = "") -> list[str]:
    """Names accepted by `--config` (or `--data`, for subdir 'data'), without the .yaml suffix."""
    folder = config_dir() / subdir
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def resolve_config_path(name_or_path: str | Path, subdir: str = "") -> Path:
    """A path to an existing YAML file, or the name of one in `configs/<subdir>`."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.parent != Path("."):
        if path.is_file():
            return path
        raise ConfigError(f"config file not found: {path}")
    named = config_dir() / subdir / f"{name_or_path}.yaml"
    if named.is_file():
        return named
    known = ", ".join(available_configs(subdir)) or "(none)"
    where = f"configs/{subdir}" if subdir else "configs"
    raise ConfigError(f"unknown config '{name_or_path}' in {where}; known: {known}")


def read_yaml(path: Path, subdir: str = "", _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read one YAML mapping, merged over its `base:` chain (base first, this file on top)."""
    layers = read_yaml_layers(path, subdir, _seen)
    if len(layers) == 1:
        return layers[0]
    return OmegaConf.to_container(OmegaConf.merge(*layers))  # type: ignore[return-value]


def read_yaml_layers(
    path: Path, subdir: str = "", _seen: tuple[Path, ...] = ()
) -> list[dict[str, Any]]:
    """The YAML mappings of a `base:` chain, base first, each without its `base:` key (merged one
    by one into a schema, a plug-in section that names another plug-in replaces the base's)."""
    path = path.resolve()
    if path in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path))
        raise ConfigError(f"{path}: circular '{BASE_KEY}:' chain: {chain}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(err, 'problem', err)}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of keys to values, got {type(data).__name__}"
        )
    base = data.pop(BASE_KEY, None)
    if base is None:
        return [data]
    base_path = _resolve_base(str(base), path, subdir)
    return [*read_yaml_layers(base_path, subdir, (*_seen, path)), data]


def _resolve_base(base: str, child: Path, subdir: str) -> Path:
    relative = child.parent / base
    if relative.suffix in (".yaml", ".yml") and relative.is_file():
        return relative
    try:
        return resolve_config_path(base, subdir)
    except ConfigError as err:
        raise ConfigError(f"{child}: '{BASE_KEY}: {base}': {err}") from None


def build(
    schema: type[T],
    data: Mapping[str, Any] | DictConfig | list[Mapping[str, Any] | DictConfig],
    source: str,
    prefix: str = "",
) -> T:
    """Validate `data` against the dataclass `schema` and return the filled dataclass instance.

    `data` may be a list of layers, merged in order (as a config file and its overrides).
    `source` (a file name or an override) and `prefix` (the key path of this section) make the
    error message point at the right place.
    """
    cfg = OmegaConf.structured(schema)
    for layer in data if isinstance(data, list) else [data]:
        cfg = _merge(cfg, layer, source, prefix)
    return _to_object(cfg, source, prefix)


def load_config(
    schema: type[T],
    name_or_path: str | Path | None = None,
    overrides: Iterable[str] = (),
    subdir: str = "",
) -> T:
    """Schema defaults, then the YAML file (a name in `configs/` or a path), then `key=value` overrides."""
    cfg = OmegaConf.structured(schema)
    if name_or_path is not None:
        path = resolve_config_path(name_or_path, subdir)
        for layer in read_yaml_layers(path, subdir):
            cfg = _merge(cfg, layer, str(path))
    for override in overrides:
        cfg = _merge(cfg, parse_override(override), f"override '{override}'")
    return _to_object(cfg, str(name_or_path or "defaults"), "")


def parse_override(override: str) -> DictConfig:
    """`train.lr=3e-5` -> {'train': {'lr': 3e-5}}; the value is read as YAML (lists, numbers, null)."""
    key, sep, value = override.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise ConfigError(
            f"override '{override}': expected KEY=VALUE with a dotted KEY, e.g. train.lr=3e-5"
        )
    try:
        return OmegaConf.from_dotlist([f"{key.strip()}={value}"])
    except OmegaConfBaseException as err:
        raise ConfigError(f"override '{override}': {_first_line(err)}") from None


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain, JSON-ready dict of a filled config dataclass (for run records and checkpoints)."""
    if dataclasses.is_dataclass(cfg):
        return OmegaConf.to_container(OmegaConf.structured(cfg), enum_to_str=True)  # type: ignore[return-value]
    return dict(cfg)


def _merge(cfg: DictConfig, data: Any, source: str, prefix: str = "") -> DictConfig:
    try:
        _clear_switched_plugins(cfg, data)
        return OmegaConf.merge(cfg, data)  # type: ignore[return-value]
    except OmegaConfBaseException as err:
        raise _config_error(err, cfg, source, prefix) from None


def _clear_switched_plugins(cfg: DictConfig, data: Any) -> None:
    """A plug-in section (an untyped mapping with a `name`, e.g. `text_encoder`) that `data`
    points at another plug-in is emptied before the merge, so it is replaced, not mixed: the old
    plug-in's parameters mean nothing to the new one (`text_encoder.name=builtin` over an `hf`
    section keeps none of its keys). Typed sections (dataclasses, e.g. `data`) merge as always."""
    if not isinstance(data, (Mapping, DictConfig)):
        return
    for key, value in data.items():
        node = cfg.get(key) if key in cfg else None
        if not isinstance(node, DictConfig) or not isinstance(value, (Mapping, DictConfig)):
            continue
        if OmegaConf.get_type(node) is not dict:
            _clear_switched_plugins(node, value)
        elif "name" in value and "name" in node and value["name"] != node["name"]:
            cfg[key] = {}


def _to_object(cfg: DictConfig, source: str, prefix: str) -> Any:
    try:
        return OmegaConf.to_object(cfg)
    except OmegaConfBaseException as err:
        raise _config_error(err, cfg, source, prefix) from None
    except (ValueError, TypeError) as err:  # raised by a schema's __post_init__ check
        raise ConfigError(f"{source}: {prefix + ': ' if prefix else ''}{err}") from None


def _config_error(
    err: OmegaConfBaseException, cfg: DictConfig, source: str, prefix: str
) -> ConfigError:
    key = ".".join(k for k in (prefix, str(getattr(err, "full_key", "") or "")) if k)
    if isinstance(err, ConfigKeyError) and "not in" in str(err):
        parent_key = str(getattr(err, "full_key", "")).rpartition(".")[0]
        valid = ", ".join(_valid_keys(cfg, parent_key)) or "(none)"
        return ConfigError(f"{source}: unknown key '{key}'; valid keys here: {valid}")
    if isinstance(err, MissingMandatoryValue):
        return ConfigError(f"{source}: '{key}' is required but has no value")
    if isinstance(err, (ValidationError, ConfigTypeError)):
        return ConfigError(f"{source}: '{key}': {_first_line(err)}")
    return ConfigError(f"{source}: {key + ': ' if key else ''}{_first_line(err)}")


def _valid_keys(cfg: DictConfig, parent_key: str) -> list[str]:
    node = OmegaConf.select(cfg, parent_key) if parent_key else cfg
    return sorted(str(k) for k in node) if isinstance(node, DictConfig) else []


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0]
