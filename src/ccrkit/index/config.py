"""How an index is built: the `configs/index/*.yaml` schema (`ccrkit index build --config NAME`).

`type` names an index type (`ccrkit.index.types`: flat, flat16, ivfpq, hnsw, or a plug-in's) or
`auto`; `params` holds that type's own parameters, checked against its dataclass:

    type: hnsw
    params: {hnsw_m: 32, ef_search: 64}

On the command line `params.ef_search=128` and the short `ef_search=128` both set one
(`index_overrides`). A parameter of another type is refused, naming the type's own.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccrkit.config import ConfigError, build, load_config_sources, to_dict
from ccrkit.index.types import INDEX_TYPES, IndexType
from ccrkit.index.types.ivfpq import IvfPqParams
from ccrkit.registry import import_plugins

AUTO = "auto"  # not a type: the planner (`ccrkit.index.plan`) resolves it to one


@dataclass
class AutoParams:
    """`type: auto`: the settings of the IVF-PQ index it may choose that the memory budget does
    not (the budget picks the code size): `nlist` (0: automatic), `nprobe`, and the shortlist
    `rerank` re-scored from the store (0: the default 100; IVF fast-scan codes need one)."""

    nlist: int = 0
    nprobe: int = IvfPqParams.nprobe
    rerank: int = IvfPqParams.rerank

    def __post_init__(self) -> None:
        if self.nlist < 0 or self.nprobe < 1 or self.rerank < 0:
            raise ValueError(
                f"auto: nlist and rerank must be >= 0 and nprobe >= 1, got {self.nlist}, "
                f"{self.rerank} and {self.nprobe}"
            )


@dataclass
class IndexConfig:
    """Which index to build (`type`, its `params`) and how; every index uses inner product on
    unit vectors. The types and their parameters: `ccrkit.index.types`.

    - auto: chosen from `max_memory` (the loaded index's size, e.g. "2GB"; "" no limit) and
      `target_recall`: exact `flat` up to 250k items when it fits, else IVF fast-scan PQ with
      re-ranking (`ccrkit.index.plan`); its `params` are `AutoParams`.
    With `target_recall` (0 < r <= 1), the type's search knob (nprobe/efSearch) and shortlist are
    tuned after the build to the cheapest that reach it with 95 % confidence over the sampled
    items; a target out of reach is an error. Approximate indexes report recall@10 against exact
    search on `recall_queries` gallery items (their 10 nearest other items).
    `plugins`: modules imported first, so that the index types they register can be named
    (recorded in the manifest; search and serve need them too: `ccrkit --plugin MODULE`).
    """

    type: str = "flat"
    params: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 64
    max_memory: str = ""
    target_recall: float = 0.0
    recall_queries: int = 1000
    seed: int = 0
    # `index build --checkpoint`: calibrate the no-good-match score threshold on the run's
    # validation split (ccrkit.index.calibrate); false skips it (no threshold in the manifest)
    calibrate: bool = True
    plugins: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        import_plugins(self.plugins)
        self.params = to_dict(self.settings)  # checked, every default filled in
        for name in ("batch_size", "recall_queries"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.target_recall <= 1.0:
            raise ValueError(
                f"target_recall must be in (0, 1] (0: no tuning), got {self.target_recall}"
            )
        if self.max_memory:
            parse_bytes(self.max_memory)  # a bad size fails here, naming the value

    @property
    def settings(self) -> Any:
        """`params` as the type's own dataclass (`AutoParams` for auto)."""
        return type_params(self.type, self.params)

    @property
    def kind(self) -> IndexType:
        """The index type with its parameters; `auto` must be resolved first (`plan`)."""
        if self.type == AUTO:
            raise ValueError("type 'auto' must be resolved first (ccrkit.index.plan.choose_config)")
        return INDEX_TYPES.get(self.type)(self.settings)

    @property
    def memory_budget(self) -> int | None:
        """`max_memory` in bytes (None: no limit)."""
        return parse_bytes(self.max_memory) if self.max_memory else None

    def with_type(self, name: str, **params: Any) -> IndexConfig:
        """This config for index type `name` with `params` (the others at their defaults)."""
        return dataclasses.replace(self, type=name, params=params)

    def with_params(self, **changes: Any) -> IndexConfig:
        return dataclasses.replace(self, params={**self.params, **changes})


def type_params(name: str, params: dict[str, Any]) -> Any:
    """`params` checked against index type `name`'s dataclass; an unknown type names the known
    ones, a parameter of another type names its owner and this type's own."""
    if name != AUTO and name not in INDEX_TYPES:
        known = ", ".join([*INDEX_TYPES.names(), AUTO])
        raise ValueError(f"type: unknown index type '{name}'; choices: {known}")
    schema = AutoParams if name == AUTO else INDEX_TYPES.get(name).params_class
    own = [spec.name for spec in dataclasses.fields(schema)]
    for key in params:
        if key not in own:
            raise ValueError(_foreign(name, str(key), own))
    return build(schema, params, f"index type '{name}'", "params")


def _foreign(name: str, key: str, own: list[str]) -> str:
    takes = f"its parameters: {', '.join(own)}" if own else "it takes none"
    owners = _owners(key)
    if owners:
        return f"params.{key}: a parameter of index type {', '.join(owners)}, not of '{name}' ({takes})"
    return (
        f"params.{key}: not a parameter of index type '{name}' ({takes}), nor an index setting "
        f"({', '.join(SETTINGS)})"
    )


def _owners(key: str) -> list[str]:
    """The index types that have a parameter `key`."""
    return [
        name for name in INDEX_TYPES.names()
        if key in {spec.name for spec in dataclasses.fields(INDEX_TYPES.get(name).params_class)}
    ]  # fmt: skip


SETTINGS = tuple(spec.name for spec in dataclasses.fields(IndexConfig))


def index_overrides(overrides: Iterable[str]) -> list[str]:
    """`KEY=VALUE` overrides with a type parameter given short (`ef_search=128`) written in full
    (`params.ef_search=128`): any key that is not an `IndexConfig` setting."""
    full = []
    for override in overrides:
        key = override.partition("=")[0].strip()
        short = "=" in override and key and key.split(".")[0] not in SETTINGS
        full.append(f"params.{override.strip()}" if short else override)
    return full


def load_index_config(
    name_or_path: str | Path | None, overrides: Iterable[str] = ()
) -> tuple[IndexConfig, Any]:
    """The index config `name_or_path` (configs/index/ or a YAML path) with `overrides`, and where
    each key came from (`ccrkit.config.Sources`). A type parameter at the top of a YAML file
    (the layout before index types owned their parameters) is refused with where it goes now."""
    try:
        return load_config_sources(IndexConfig, name_or_path, index_overrides(overrides), "index")
    except ConfigError as err:
        found = re.search(r"unknown key '(\w+)'", str(err))
        owners = _owners(found.group(1)) if found else []
        if not owners:
            raise
        key = found.group(1)  # type: ignore[union-attr]
        raise ConfigError(
            f"{err}; '{key}' is a parameter of index type {', '.join(owners)}: put it under "
            f"`params:` (e.g. `params: {{{key}: ...}}`)"
        ) from None


def parse_bytes(text: str) -> int:
    """'2GB', '512MB', '1.5G', '800M', '1024' (bytes) -> bytes (powers of 1024)."""
    value = text.strip().upper().removesuffix("B").removesuffix("I")
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    scale = units.get(value[-1:], 1)
    number = value[:-1] if value[-1:] in units else value
    try:
        amount = float(number)
    except ValueError:
        raise ValueError(f"not a memory size: {text!r} (e.g. 2GB, 512MB)") from None
    if amount <= 0:
        raise ValueError(f"memory size must be positive, got {text!r}")
    return int(amount * scale)
