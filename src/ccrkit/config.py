"""Typed configuration: dataclass schemas filled from YAML files and dotted command-line overrides.

OmegaConf structured configs do the parsing, merging and type checking; this module only finds the
files, supports single inheritance (`base: NAME` in a YAML file) and turns OmegaConf's errors into one
`ConfigError` that names the file (or the override), the key and what was expected.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf
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


# Sub-folders of configs/ that are groups of their own, read by name with `subdir` (`--data
# NAME` looks in configs/data/, `--grid NAME` in configs/report/). Every other YAML file under
# configs/ (world/, runs/<dataset>/) belongs to the main group that `--config NAME` reads: its
# sub-folders only sort the files for a reader, a name never says which one it lives in.
GROUPS = ("data", "index", "report", "translate")


def config_files(subdir: str = "") -> dict[str, list[Path]]:
    """The files of group `subdir` (the main group for "") by name (file stem), at any depth.

    A name with two files is kept with both, so that looking it up can say which ones clash."""
    folder = config_dir() / subdir
    files: dict[str, list[Path]] = {}
    for path in sorted(folder.rglob("*.yaml")) if folder.is_dir() else []:
        if not subdir and path.relative_to(folder).parts[0] in GROUPS:
            continue
        files.setdefault(path.stem, []).append(path)
    return files


def available_configs(subdir: str = "") -> list[str]:
    """Names accepted by `--config` (or `--data`, for subdir 'data'), without the .yaml suffix."""
    return sorted(config_files(subdir))


def resolve_config_path(name_or_path: str | Path, subdir: str = "") -> Path:
    """A path to an existing YAML file, or the name of one in `configs/<subdir>` (at any depth;
    without subdir, anywhere in configs/ outside the `GROUPS` folders)."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.parent != Path("."):
        if path.is_file():
            return path
        raise ConfigError(f"config file not found: {path}")
    where = f"configs/{subdir}" if subdir else "configs"
    files = config_files(subdir)
    named = files.get(str(name_or_path), [])
    if len(named) == 1:
        return named[0]
    if named:
        clash = ", ".join(p.relative_to(config_dir()).as_posix() for p in named)
        raise ConfigError(
            f"ambiguous config '{name_or_path}' in {where}: {len(named)} files have this name "
            f"({clash}); rename one, or give a path"
        )
    known = ", ".join(sorted(files)) or "(none)"
    raise ConfigError(f"unknown config '{name_or_path}' in {where}; known: {known}")


def yaml_chain(
    path: Path, subdir: str = "", _seen: tuple[Path, ...] = ()
) -> list[tuple[Path, dict[str, Any]]]:
    """One YAML mapping per file of `path`'s `base:` chain, base first, each without `base:`."""
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
        return [(path, data)]
    base_path = _resolve_base(str(base), path, subdir)
    return [*yaml_chain(base_path, subdir, (*_seen, path)), (path, data)]


def read_yaml(path: Path, subdir: str = "", schema: type | None = None) -> dict[str, Any]:
    """One YAML mapping, merged over its `base:` chain (base first, this file on top).

    With `schema`, a plug-in section whose `name` changes replaces the inherited one
    (`plugin_sections`) instead of being merged into it.
    """
    sections = plugin_sections(schema) if schema is not None else set()
    merged: dict[str, Any] = {}
    for file, data in yaml_chain(path, subdir):
        merged = merge_layer(merged, data, sections, str(file))
    return merged


def plugin_sections(schema: type) -> set[str]:
    """Fields of `schema` that choose an implementation by `name` (a `dict` field whose default
    has a `name`, e.g. a run's `text_encoder`): the rest of such a section belongs to that
    implementation, so a layer that names another one starts the section afresh."""
    found = set()
    for spec in dataclasses.fields(schema):
        factory = spec.default_factory
        if factory is not dataclasses.MISSING:
            default = factory()
            if isinstance(default, dict) and "name" in default:
                found.add(spec.name)
    return found


def merge_layer(
    below: Mapping[str, Any],
    layer: Mapping[str, Any],
    sections: Iterable[str] = (),
    source: str = "",
) -> dict[str, Any]:
    """`layer` merged over `below` (plain dicts); see `plugin_sections` for `sections`, and
    `_merge_by_position` for `source` (what an error names) and a list set item by item."""
    below = dict(below)
    for section in replaced_sections(below, layer, sections):
        below.pop(section, None)
    return OmegaConf.to_container(_merge_by_position(below, layer, source))  # type: ignore[return-value]


def _merge_by_position(below: Any, layer: Any, source: str, prefix: str = "") -> DictConfig:
    """`OmegaConf.merge(below, layer)`, where `layer` may also set an item of a list of `below`
    by its position: `experiments.0.noise=[0.0]` parses to {'experiments': {'0': {'noise':
    [0.0]}}}, a mapping that OmegaConf cannot merge over a list (a TypeError from deep inside),
    so the mapping becomes the whole list with that item merged. A position past the end, a key
    that is not a position or a list over a mapping is a `ConfigError` naming `source` and the
    key (`prefix`: the key path of `below`)."""
    try:
        return OmegaConf.merge(below, layer)  # type: ignore[return-value]
    except TypeError:  # "Cannot merge incompatible container types"
        plain = OmegaConf.to_container(layer) if OmegaConf.is_config(layer) else layer
        indexed = _by_position(below, plain, source, prefix)  # interpolations left unresolved
        return OmegaConf.merge(_without_replaced(below, indexed), indexed)  # type: ignore[return-value]


def _by_position(below: Any, layer: Any, source: str, key: str) -> Any:
    """`layer` with each mapping over a list of `below` replaced by the list, items merged.

    An item is merged into `below`'s own node, so that a typed item (a grid's experiment) is
    checked against its schema with its place in the error (`experiments[0].noise`)."""
    if isinstance(layer, Mapping) and isinstance(below, list | ListConfig):
        items = list(below)
        for index, value in layer.items():
            position = _position(index, items, source, key)
            item = items[position]
            value = _by_position(item, value, source, f"{key}.{index}")
            both = isinstance(item, Mapping) and isinstance(value, Mapping)
            items[position] = OmegaConf.merge(item, value) if both else value
        return items
    if isinstance(layer, Mapping) and isinstance(below, Mapping):
        return {
            name: _by_position(
                _child(below, name), value, source, f"{key}.{name}" if key else str(name)
            )
            for name, value in layer.items()
        }
    if (
        isinstance(layer, list | ListConfig)
        and isinstance(below, Mapping)
        and not _positions(below)
    ):
        raise ConfigError(
            f"{_label(source)}'{key}' is a section of named keys, not a list: set its keys "
            f"({key}.KEY=VALUE) or give it whole as a mapping ({key}={{KEY: VALUE}})"
        )
    return layer  # a list over positions set before it (by an earlier override) replaces them


def _without_replaced(below: Any, layer: Any) -> Any:
    """`below` less the items set by position that a whole list of `layer` replaces (in plain
    data: overrides `a.0.b=1` then `a=[...]` merged together)."""
    if not (isinstance(below, dict) and isinstance(layer, Mapping)):
        return below
    return {
        name: _without_replaced(value, layer.get(name))
        for name, value in below.items()
        if not (isinstance(layer.get(name), list | ListConfig) and isinstance(value, Mapping))
    }


def _child(below: Mapping[Any, Any], name: Any) -> Any:
    """`below[name]`, or None where there is none (an unknown key, a value still missing)."""
    try:
        return below.get(name)
    except OmegaConfBaseException:
        return None


def _position(index: Any, items: list[Any], source: str, key: str) -> int:
    if not str(index).isdigit():
        raise ConfigError(
            f"{_label(source)}'{key}' is a list: set an item by its position ({key}.0.KEY=VALUE, "
            f"not '{key}.{index}') or give the whole list ({key}=[...])"
        )
    if int(index) >= len(items):
        raise ConfigError(
            f"{_label(source)}'{key}.{index}': no such item; '{key}' has {len(items)} item(s), "
            "numbered from 0"
        )
    return int(index)


def _positions(data: Mapping[Any, Any]) -> bool:
    """Whether `data` sets list items by position (what an earlier `a.0.b=...` parsed to)."""
    return bool(data) and all(str(key).isdigit() for key in data)


def _label(source: str) -> str:
    return f"{source}: " if source else ""


def replaced_sections(
    below: Mapping[str, Any] | DictConfig, layer: Mapping[str, Any], sections: Iterable[str]
) -> list[str]:
    """The plug-in sections whose `name` `layer` changes from the one in `below`."""
    changed = []
    for section in sections:
        new, old = layer.get(section), below.get(section)
        named = isinstance(new, Mapping) and "name" in new and isinstance(old, Mapping)
        if named and old.get("name") != new["name"]:  # type: ignore[union-attr,index]
            changed.append(section)
    return changed


def _resolve_base(base: str, child: Path, subdir: str) -> Path:
    relative = child.parent / base
    if relative.suffix in (".yaml", ".yml") and relative.is_file():
        return relative
    try:
        return resolve_config_path(base, subdir)
    except ConfigError as err:
        raise ConfigError(f"{child}: '{BASE_KEY}: {base}': {err}") from None


class Sources:
    """Which file or override set each key of a config, so an error names the right one.

    `of(key)` gives the layer that set `key` (or, for a section, the last one that set a key in
    it; for a key nobody set, the layer that set its closest parent), else `default`.
    """

    def __init__(self, default: str) -> None:
        self.default = default
        self._by_key: dict[str, str] = {}
        self._layers: list[str] = []

    def record(self, data: Mapping[str, Any], label: str, prefix: str = "") -> None:
        if label not in self._layers:
            self._layers.append(label)
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, Mapping) and value:
                self.record(value, label, path)
            else:
                self._by_key.pop(path, None)  # re-inserted last: `of` prefers later layers
                self._by_key[path] = label

    def drop(self, section: str) -> None:
        for key in [k for k in self._by_key if k == section or k.startswith(section + ".")]:
            del self._by_key[key]

    def of(self, key: str) -> str:
        if key in self._by_key:
            return self._by_key[key]
        inside = [label for k, label in self._by_key.items() if k.startswith(key + ".")]
        if inside:
            return inside[-1]
        parents = [k for k in self._by_key if key.startswith(k + ".")]
        return self._by_key[max(parents, key=len)] if parents else self.default

    def layers(self) -> list[str]:
        """Every layer recorded, in the order they were applied."""
        return list(self._layers)

    def __str__(self) -> str:
        return self.default


def build(
    schema: type[T],
    data: Mapping[str, Any] | DictConfig,
    source: str | Sources,
    prefix: str = "",
) -> T:
    """Validate `data` against the dataclass `schema` and return the filled dataclass instance.

    `source` (a file name or an override, or the `Sources` of the whole config) and `prefix`
    (the key path of this section) make the error message point at the right place.
    """
    return _to_object(_merge(OmegaConf.structured(schema), data, source, prefix), source, prefix)


def load_config(
    schema: type[T],
    name_or_path: str | Path | None = None,
    overrides: Iterable[str] = (),
    subdir: str = "",
) -> T:
    """Schema defaults, then the YAML file (a name in `configs/` or a path), then `key=value` overrides."""
    return load_config_sources(schema, name_or_path, overrides, subdir)[0]


def load_config_sources(
    schema: type[T],
    name_or_path: str | Path | None = None,
    overrides: Iterable[str] = (),
    subdir: str = "",
) -> tuple[T, Sources]:
    """`load_config`, plus where each key came from (`Sources`), for later checks' messages.

    Layers apply in order: the schema's defaults, each file of the `base:` chain (base first),
    then the overrides. A layer that gives a plug-in section another `name` replaces that section
    (`plugin_sections`); the overrides decide that together, so their order does not matter.
    """
    sources = Sources(str(name_or_path or "defaults"))
    layers: list[tuple[str, Any]] = []
    if name_or_path is not None:
        path = resolve_config_path(name_or_path, subdir)
        layers += [(str(p), data) for p, data in yaml_chain(path, subdir)]
    parsed = [(f"override '{o}'", parse_override(o)) for o in overrides]
    sections = plugin_sections(schema)
    cfg = OmegaConf.structured(schema)
    states = [(cfg, "defaults")]
    for label, data in layers:
        cfg = _replace_sections(cfg, data, sections, sources)
        cfg = _merge(cfg, data, label)
        sources.record(data, label)
        states.append((cfg, label))
    if parsed:
        together: dict[str, Any] = {}
        for label, data in parsed:
            together = merge_layer(together, data, source=label)
        cfg = _replace_sections(cfg, together, sections, sources)
    for label, data in parsed:
        cfg = _merge(cfg, data, label)
        sources.record(data, label)  # type: ignore[arg-type]
        states.append((cfg, label))
    try:
        return OmegaConf.to_object(cfg), sources  # type: ignore[return-value]
    except OmegaConfBaseException as err:
        raise _config_error(err, cfg, sources, "") from None
    except (ValueError, TypeError):  # a `__post_init__` check: name the layer that broke it
        return _to_object(cfg, _culprit(states), ""), sources


def _replace_sections(
    cfg: DictConfig, layer: Mapping[str, Any], sections: set[str], sources: Sources
) -> DictConfig:
    for section in replaced_sections(cfg, layer, sections):
        cfg = cfg.copy()
        cfg[section] = {}
        sources.drop(section)
    return cfg


def _culprit(states: list[tuple[DictConfig, str]]) -> str:
    """The layer after which the config stopped being valid (a `__post_init__` check failed)."""
    culprit = states[-1][1]
    for (cfg, _), (_, label) in zip(reversed(states[:-1]), reversed(states[1:]), strict=True):
        culprit = label
        try:
            OmegaConf.to_object(cfg)
            break
        except (OmegaConfBaseException, ValueError, TypeError):
            continue
    return culprit


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


# Field metadata of a setting that does not name a result (how a run is shown or how fast it
# goes, never its numbers): `progress: bool = field(default=True, metadata=NOT_NAMING)`.
NOT_NAMING = {"names_result": False}


def not_naming_paths(cfg: Any, prefix: str = "") -> set[str]:
    """The dotted paths of `cfg`'s fields marked `NOT_NAMING`, in nested dataclasses too
    (`{'train.progress', 'data.num_workers', ...}` for a run config)."""
    paths = set()
    for spec in dataclasses.fields(cfg):
        value = getattr(cfg, spec.name)
        if not spec.metadata.get("names_result", True):
            paths.add(prefix + spec.name)
        elif dataclasses.is_dataclass(value):
            paths |= not_naming_paths(value, f"{prefix}{spec.name}.")
    return paths


def hash_view(cfg: Any, kept: Collection[str] = frozenset(), prefix: str = "") -> Any:
    """What of `cfg` names its result, as plain data for `stable_hash`.

    A dataclass field enters only when it differs from its default, so adding a field with a
    default renames nothing that was hashed before; a field marked `NOT_NAMING` never enters.
    `kept`: dotted paths that enter even at their default (the fields of a schema hashed before
    this rule, kept so that the names made then stay valid). Plain dicts and lists (plug-in
    sections) enter as they are.

    Example::

        @dataclass
        class Cfg:
            lr: float = 0.1
            progress: bool = field(default=True, metadata=NOT_NAMING)

        hash_view(Cfg(lr=0.2, progress=False))  # {'lr': 0.2}
        hash_view(Cfg())                        # {}
    """
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        view = {}
        for spec in dataclasses.fields(cfg):
            path = prefix + spec.name
            value = getattr(cfg, spec.name)
            if not spec.metadata.get("names_result", True):
                continue
            if path not in kept and _is_default(spec, value):
                continue
            view[spec.name] = hash_view(value, kept, path + ".")
        return view
    if isinstance(cfg, Mapping):
        return {key: hash_view(value, kept, f"{prefix}{key}.") for key, value in cfg.items()}
    if isinstance(cfg, list | tuple):
        return [hash_view(value, kept, prefix) for value in cfg]
    return cfg


def stable_hash(data: Any) -> str:
    """sha256 (hex) of `data` (e.g. `hash_view` results) as sorted JSON; unknown types as str."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _is_default(spec: dataclasses.Field, value: Any) -> bool:
    if spec.default is not dataclasses.MISSING:
        return bool(value == spec.default)
    if spec.default_factory is not dataclasses.MISSING:
        return bool(value == spec.default_factory())
    return False  # a required field always names the result


def _merge(cfg: DictConfig, data: Any, source: str | Sources, prefix: str = "") -> DictConfig:
    label = source.of(prefix) if isinstance(source, Sources) else source
    try:
        return _merge_by_position(cfg, data, label, prefix)
    except OmegaConfBaseException as err:
        raise _config_error(err, cfg, source, prefix) from None


def _to_object(cfg: DictConfig, source: str | Sources, prefix: str) -> Any:
    try:
        return OmegaConf.to_object(cfg)
    except OmegaConfBaseException as err:
        raise _config_error(err, cfg, source, prefix) from None
    except (ValueError, TypeError) as err:  # raised by a schema's __post_init__ check
        where = ".".join(k for k in (prefix, _checked_section(err, cfg)) if k)
        label = source.of(where) if isinstance(source, Sources) else source
        raise ConfigError(f"{label}: {where + ': ' if where else ''}{err}") from None


def _checked_section(err: BaseException, cfg: DictConfig) -> str:
    """The key path of the nested dataclass whose `__post_init__` raised `err` ('' for the top)."""
    tb, checked = err.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "__post_init__":
            checked = type(tb.tb_frame.f_locals.get("self"))
        tb = tb.tb_next
    return _path_of_type(OmegaConf.get_type(cfg), checked) or ""


def _path_of_type(schema: Any, wanted: Any, prefix: str = "") -> str | None:
    if schema is wanted or not dataclasses.is_dataclass(schema):
        return None
    for spec in dataclasses.fields(schema):
        factory = spec.default_factory
        kind = type(factory()) if factory is not dataclasses.MISSING else None
        path = f"{prefix}.{spec.name}" if prefix else spec.name
        if kind is wanted and wanted is not None:
            return path
        if kind is not None and dataclasses.is_dataclass(kind):
            deeper = _path_of_type(kind, wanted, path)
            if deeper:
                return deeper
    return None


def _config_error(
    err: OmegaConfBaseException, cfg: DictConfig, source: str | Sources, prefix: str
) -> ConfigError:
    key = ".".join(k for k in (prefix, str(getattr(err, "full_key", "") or "")) if k)
    source = source.of(key) if isinstance(source, Sources) else source
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
