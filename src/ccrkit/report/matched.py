"""Matched baselines: translate-train on a method's own recipe, so that a comparison measures the
method and nothing else.

A grid method with `matched: M` is the translate-train baseline of grid method M: the same text
and visual towers, heads, loss family, language weights, optimiser, schedule and epochs, with M's
own components switched off (`Method.MATCHED_OFF`, or `Method.matched_baseline` where the
baseline is another method, as for 1-to-K). Without a config of its own it is derived from M's
(`derive_section`); with one, or with overrides of its own, it is checked (`check_matched`): a
difference from M outside M's components refuses the grid, naming the field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ccrkit.config import ConfigError, build, to_dict
from ccrkit.methods.registry import METHODS
from ccrkit.models.registry import split_section
from ccrkit.report.spec import GridSpec

# the run-config keys shown first where a page says what a matched baseline shares
RECIPE_KEYS = (
    "train.optimizer", "train.lr", "train.weight_decay", "train.schedule", "train.warmup_steps",
    "train.plateau_decay", "train.plateau_factor", "train.plateau_patience", "train.epochs",
    "train.early_stop", "train.batch_size", "train.grad_clip", "data.roles",
    "eval.select_metric", "eval.val_fusion_weight",
)  # fmt: skip


@dataclass
class Matched:
    """What a matched baseline shares with its method, and what it switches off."""

    key: str  # the baseline's grid key
    method: str  # the method's grid key
    switched: dict[str, Any]  # method key -> its value in the baseline
    shared: dict[str, Any] = field(default_factory=dict)  # dotted key -> the common value

    def describe(self, method_label: str, baseline_label: str) -> str:
        """One Markdown paragraph: what is switched off, then what is shared (the encoders and the
        method's other settings in full, the recipe; every shared key is in the grid's JSON)."""
        off = ", ".join(f"`{key}={_show(value)}`" for key, value in self.switched.items())

        def listed(prefix: str) -> str:
            return ", ".join(
                f"{key.removeprefix(prefix)}={_show(value)}"
                for key, value in self.shared.items()
                if key.startswith(prefix)
            )

        recipe = ", ".join(
            f"{key}={_show(self.shared[key])}" for key in RECIPE_KEYS if key in self.shared
        )
        return (
            f"**{baseline_label}** is {method_label} with its own components switched off ({off}) "
            f"and shares all else: text encoder ({listed('text_encoder.')}); visual encoder "
            f"({listed('visual_encoder.')}); {method_label}'s other settings "
            f"({listed('method.')}); recipe ({recipe}); and every other data, train and eval key."
        )


def _show(value: Any) -> str:
    return str(value).replace("|", "/")


def derive_section(section: Mapping[str, Any], source: str) -> tuple[dict[str, Any], dict]:
    """(the matched baseline's method section, the switched keys and their values) of a method
    section (`name` + parameters), validated against the method's schema first."""
    name, params = split_section(section, "method", source)
    entry = METHODS.get(name)
    build(entry.config_class, params, source, "method")
    try:
        base, base_params, switched = entry.matched_baseline(name, dict(params))
    except ValueError as err:
        raise ConfigError(f"{source}: {err}") from None
    return {"name": base, **base_params}, switched


def check_matched(grid: GridSpec, key: str) -> Matched:
    """Grid method `key` (`matched: M`) against M, both as the grid runs them: refused with a
    `ConfigError` naming the first field in which it differs from M outside M's components, or
    in which it leaves a component of M on; else what they share."""
    from ccrkit.report.plan import method_config

    parent = grid.methods[key].matched
    assert parent is not None
    source = f"grid {grid.name}, method {key}"
    method = to_dict(method_config(grid, parent, [], source))
    baseline = to_dict(method_config(grid, key, [], source))
    derived, switched = derive_section(method["method"], source)
    where = f"grid {grid.name}: method '{key}' is the matched baseline of '{parent}'"
    shared: dict[str, Any] = {}
    for name in sorted(set(method) | set(baseline)):
        if name != "method":
            shared |= _same(_flat(method.get(name), name), _flat(baseline.get(name), name), where)
    mine = _method_fields(baseline["method"], source)
    wanted = _method_fields(derived, source)
    own = _method_fields(method["method"], source)  # a cross-method baseline shares only these
    for field_name in sorted(set(mine) | set(wanted)):
        have, want = mine.get(field_name), wanted.get(field_name)
        if field_name in switched or field_name == "name":
            if have != want:
                raise ConfigError(
                    f"{where}, but it has {field_name} = {have!r}: a matched baseline switches "
                    f"{parent}'s components off ({field_name} = {want!r})"
                )
            continue
        if have != want:
            raise ConfigError(
                f"{where} but differs from it in method.{field_name} ({have!r} vs {want!r}); "
                f"only {parent}'s components may differ: {', '.join(switched)}"
            )
        if field_name in own:
            shared[f"method.{field_name}"] = have
    return Matched(key, parent, switched, shared)


def check_grid(grid: GridSpec) -> dict[str, Matched]:
    """Every matched baseline of the grid, checked (by its key)."""
    return {key: check_matched(grid, key) for key, m in grid.methods.items() if m.matched}


def _method_fields(section: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A method section as its typed config's every field (defaults filled) and its name."""
    name, params = split_section(section, "method", source)
    config = build(METHODS.get(name).config_class, params, source, "method")
    return {"name": name, **dataclasses.asdict(config)}


def _flat(tree: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(tree, Mapping) or not tree:
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat |= _flat(value, f"{prefix}.{key}")
    return flat


def _same(method: dict[str, Any], baseline: dict[str, Any], where: str) -> dict[str, Any]:
    for key in sorted(set(method) | set(baseline)):
        if method.get(key) != baseline.get(key):
            raise ConfigError(
                f"{where} but differs from it in {key} ({baseline.get(key)!r} vs "
                f"{method.get(key)!r}); a matched baseline shares everything but the method's "
                "components"
            )
    return method
