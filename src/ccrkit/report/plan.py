"""Expand a grid into runs: one resolved run config per (method, variant, language, noise, seed),
named by a hash of that config and of the world it reads, so a rerun only trains what is missing
and a run shared by two experiments (e.g. the full method at the default noise) trains once."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ccrkit.config import (
    ConfigError,
    build,
    config_files,
    hash_view,
    merge_layer,
    parse_override,
    plugin_sections,
    read_yaml,
    resolve_config_path,
    stable_hash,
    yaml_chain,
)
from ccrkit.methods.registry import resolve_method
from ccrkit.report.spec import SEPARATE, ExperimentSpec, GridSpec
from ccrkit.runs import RUN_RECORD
from ccrkit.train.config import RunConfig, resolve_run

# The run-config fields hashed before defaults were left out of the hash (issue 21): they enter
# even at their default so that the runs cached then keep their names. Frozen: a field added
# later enters only when it differs from its default (`ccrkit.config.hash_view`), so adding one
# renames nothing and needs no entry here.
HASHED_AT_DEFAULT = frozenset({
    "seed", "plugins", "data", "data.name", "data.root", "data.lang", "data.target_langs",
    "data.roles", "data.feature", "data.train_split", "data.val_split", "data.test_split",
    "data.sort_batch_by", "text_encoder", "visual_encoder", "method", "train", "train.epochs",
    "train.batch_size", "train.optimizer", "train.lr", "train.weight_decay", "train.betas",
    "train.eps", "train.lr_mult", "train.schedule", "train.warmup_steps", "train.min_lr_ratio",
    "train.plateau_decay", "train.plateau_factor", "train.plateau_patience", "train.early_stop",
    "train.grad_clip", "train.grad_accum", "train.drop_last", "train.device", "train.amp",
    "train.amp_dtype", "train.dist_backend", "train.find_unused_parameters",
    "train.sync_batchnorm", "train.log_every", "eval", "eval.batch_size", "eval.fusion_weights",
    "eval.val_fusion_weight", "eval.select_metric", "eval.ties", "eval.english",
    "eval.save_ranks",
})  # fmt: skip
PLAIN = "-"  # the variant name of an experiment without variants
JOINED = "+"  # joins a joint run's languages in its key and folder name


@dataclass(frozen=True)
class RunKey:
    method: str
    variant: str
    lang: str  # one language, or a joint run's languages joined by "+" ("de+fr+zh")
    noise: float
    seed: int
    training: str = SEPARATE

    @property
    def langs(self) -> list[str]:
        """The languages the run trains on and is tested in."""
        return self.lang.split(JOINED)

    @property
    def cell(self) -> Cell:
        """What the run's seeds are pooled over: (method, variant, training, lang, noise)."""
        return (self.method, self.variant, self.training, self.lang, self.noise)


Cell = tuple[str, str, str, str, float]


@dataclass
class PlannedRun:
    key: RunKey
    config: RunConfig
    digest: str
    run_dir: Path
    # the digest of what training reads (`training_digest`): runs sharing it share their weights
    trained: str = ""

    @property
    def name(self) -> str:
        return self.run_dir.name


def variants_of(experiment: ExperimentSpec) -> dict[str, list[str]]:
    return dict(experiment.variants) or {PLAIN: []}


def run_overrides(key: RunKey, variant: list[str], root: Path) -> list[str]:
    """What a run adds to its method's config (`method_config`): the variant's overrides, then
    seed and data: a separate run trains on its language; a joint run on all of its languages
    (validated and tested in each, `DataConfig.evaluation_langs`)."""
    langs = key.langs
    return [
        *variant, f"seed={key.seed}", f"data.lang={langs[0]}",
        f"data.target_langs=[{','.join(langs)}]", f"data.root={root}",
    ]  # fmt: skip


def with_run(config: RunConfig, key: RunKey, root: Path) -> RunConfig:
    """`config` with the run's seed and data (what `run_overrides` sets, without another typed
    merge): seed, the language(s) and the world's root."""
    langs = key.langs
    data = dataclasses.replace(config.data, lang=langs[0], target_langs=list(langs), root=str(root))
    # paths interpolated from data.root when the config was built (`${data.root}/models/
    # world-mbert`) follow the world, as a full resolution with the run's data.root gives them
    encoders = {name: _rerooted(getattr(config, name), config.data.root, str(root))
                for name in ("text_encoder", "visual_encoder")}  # fmt: skip
    return dataclasses.replace(config, seed=key.seed, data=data, **encoders)


def _rerooted(section: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    prefix = old.rstrip("/") + "/"
    return {
        k: new.rstrip("/") + "/" + v[len(prefix) :]
        if isinstance(v, str) and v.startswith(prefix)
        else v
        for k, v in section.items()
    }


def language_groups(experiment: ExperimentSpec, training: str) -> list[str]:
    """Run languages of a training mode: each language alone, or all of them joined."""
    langs = list(dict.fromkeys(experiment.langs))
    return langs if training == SEPARATE else [JOINED.join(langs)]


def config_digest(config: RunConfig, world_id: str) -> str:
    """The name of a run: its config (what names a result: `hash_view`) and its world."""
    return stable_hash({"config": hash_view(config, HASHED_AT_DEFAULT), "world": world_id})


def training_digest(config: RunConfig, world_id: str, test_time_keys: tuple[str, ...]) -> str:
    """The digest of the run its weights come from: its config without the method's
    `TEST_TIME_KEYS` (equal to `config_digest` when it sets none of them)."""
    method = {key: value for key, value in config.method.items() if key not in test_time_keys}
    return config_digest(dataclasses.replace(config, method=method), world_id)


def rescored_from(runs: list[PlannedRun]) -> dict[str, PlannedRun]:
    """{digest: the run it is scored from} for the runs that differ from another run of `runs`
    only in test-time keys (`ccrkit.train.retest`): that other run sets none of them."""
    trained = {run.digest: run for run in runs if run.digest == run.trained}
    return {
        run.digest: trained[run.trained]
        for run in runs
        if run.digest != run.trained and run.trained in trained
    }


@functools.cache
def _config_file(name: str) -> dict[str, Any]:
    return read_yaml(resolve_config_path(name), schema=RunConfig)


def resolve_config(name: str, overrides: list[str], source: str) -> RunConfig:
    """What `load_config(RunConfig, name, overrides)` gives, with the file read once per grid and
    the overrides merged together before one typed merge (a grid resolves hundreds of configs),
    and the method section validated too, so a typo in a variant fails before any training."""
    where = f"{source} ({name} + overrides)"
    return _build(_merged(name, overrides, where), where)


def _merged(name: str, overrides: list[str], where: str) -> DictConfig:
    return _overridden(_config_file(name), overrides, where)


def _overridden(below: dict[str, Any] | DictConfig, overrides: list[str], where: str) -> DictConfig:
    """`overrides` merged together over `below`; as in `load_config`, an override that names
    another plug-in (`text_encoder={name: builtin, ...}` over world-mbert) replaces the section.
    `where` (the grid and the config) starts the message of an override that cannot apply."""
    if isinstance(below, DictConfig):
        below = OmegaConf.to_container(below)  # type: ignore[assignment]
    together: dict[str, Any] = {}
    for override in overrides:
        together = merge_layer(
            together, parse_override(override), (), f"{where}: override '{override}'"
        )
    layer = merge_layer(below, together, plugin_sections(RunConfig), where)  # type: ignore[arg-type]
    return OmegaConf.create(layer)


def _build(merged: DictConfig, where: str) -> RunConfig:
    """The typed run config, its plug-in sections checked too (`resolve_run`), so that a typo in
    a variant fails when the grid is planned, not hours later when its run starts. The runs keep
    the `RunConfig`: each is re-rooted on its world (`with_run`) and resolved again when trained."""
    config = build(RunConfig, merged, where)
    resolve_run(config, where)
    return config


def method_config(grid: GridSpec, key: str, extra: list[str], source: str) -> RunConfig:
    """Method `key` of the grid as run with `extra` overrides (a run's `run_overrides`).

    Its config file, then the grid's overrides, its convergence (max_epochs, patience) and the
    method's overrides. A matched baseline without a config of its own (`matched: M`) starts
    from M's config so far, with M's method section replaced by its derivation
    (`derive_section`), then takes its own overrides."""
    spec = grid.methods[key]
    common = [*grid.overrides, *grid.convergence_overrides()]
    if spec.matched is not None and not spec.config:
        parent = grid.methods[spec.matched]
        where = f"{source} (the matched baseline of {spec.matched}: {parent.config} + overrides)"
        merged = _merged(parent.config, [*common, *parent.overrides], where)
        section, _ = derive_section(OmegaConf.to_container(merged.method), where)
        merged.method = OmegaConf.create(section)
        return _build(_overridden(merged, [*spec.overrides, *extra], where), where)
    name = spec.config
    where = f"{source} ({name} + overrides)"
    return _build(_merged(name, [*common, *spec.overrides, *extra], where), where)


def grid_config_files(grid: GridSpec, source: str) -> list[Path]:
    """The config files a grid's numbers depend on: the grid's own file, each method's run
    config, the world config and the data configs its runs name, each with its `base:` chain.
    A results page hashes these alone (`provenance.code_state`)."""
    heads = [(resolve_config_path(source, "report"), "report")]
    heads.append((resolve_config_path(grid.world.config, "world"), "world"))
    data_specs = config_files("data")
    for key, spec in grid.methods.items():
        if spec.config:
            heads.append((resolve_config_path(spec.config), ""))
        data = method_config(grid, key, [], source).data.name
        if data in data_specs:
            heads.append((resolve_config_path(data, "data"), "data"))
    files = {path for head, subdir in heads for path, _ in yaml_chain(head, subdir)}
    return sorted(files)


def derive_section(section: Mapping[str, Any], source: str) -> tuple[dict[str, Any], dict]:
    """(the matched baseline's method section, the switched keys and their values) of a method
    section (`name` + parameters), validated against the method's schema first."""
    method = resolve_method(section, source)
    params = {key: value for key, value in section.items() if key != "name"}
    try:
        base, base_params, switched = method.entry.matched_baseline(method.name, params)
    except ValueError as err:
        raise ConfigError(f"{source}: {err}") from None
    return {"name": base, **base_params}, switched


def plan_experiment(
    grid: GridSpec, experiment: ExperimentSpec, worlds: dict[float, tuple[Path, str]],
    seeds: list[int] | None = None, cells: set[Cell] | None = None,
) -> list[PlannedRun]:  # fmt: skip
    """Every run of one experiment; `worlds` maps a noise level to (root, world identity).
    `seeds` (default: the experiment's) and `cells` (default: all) narrow it down, e.g. to the
    extra seeds of the cells whose comparison needs them."""
    runs = []
    groups = [
        (mode, lang) for mode in experiment.training for lang in language_groups(experiment, mode)
    ]
    axes = (experiment.methods, variants_of(experiment).items(), groups,
            grid.noise_levels(experiment), experiment.seeds if seeds is None else seeds)  # fmt: skip
    built: dict[tuple[str, str], RunConfig] = {}
    test_time: dict[str, tuple[str, ...]] = {}
    existing = existing_folders(Path(grid.runs_dir))
    for method, (variant, extra), (training, lang), noise, seed in itertools.product(*axes):
        key = RunKey(method, variant, lang, float(noise), int(seed), training)
        if cells is not None and key.cell not in cells:
            continue
        root, world_id = worlds[float(noise)]
        if (method, variant) not in built:  # one typed build per method and variant: it is slow
            source = f"grid {grid.name}, experiment {experiment.name}, {method}/{variant}"
            built[method, variant] = method_config(grid, method, list(extra), source)
        config = with_run(built[method, variant], key, root)
        digest = config_digest(config, world_id)
        if method not in test_time:
            test_time[method] = resolve_method(config.method).entry.TEST_TIME_KEYS
        label = "" if variant == PLAIN else "-" + re.sub(r"[^A-Za-z0-9.]+", "_", variant)
        name = f"{method}{label}-{lang}-noise{noise:g}-seed{seed}-{digest[:10]}"
        run_dir = Path(grid.runs_dir) / name
        if not run_dir.exists():  # the same config, trained under another experiment's name
            run_dir = existing.get(digest[:10], run_dir)
        trained = training_digest(config, world_id, test_time[method])
        runs.append(PlannedRun(key, config, digest, run_dir, trained))
    return runs


def existing_folders(runs_dir: Path) -> dict[str, Path]:
    """The run folders already in `runs_dir` by the config hash their name ends with, so that a
    run another experiment named otherwise (the ablation's "full" variant is the noise
    experiment's NRCCR) is found instead of trained again."""
    found: dict[str, Path] = {}
    if runs_dir.is_dir():
        for folder in sorted(runs_dir.iterdir()):
            if (folder / RUN_RECORD).is_file():
                found.setdefault(folder.name.rsplit("-", 1)[-1], folder)
    return found


def unique_runs(runs: list[PlannedRun]) -> list[PlannedRun]:
    """Each config hash once (experiments may share runs), in first-seen order."""
    seen: dict[str, PlannedRun] = {}
    for run in runs:
        seen.setdefault(run.digest, run)
    return list(seen.values())


def describe(run: PlannedRun) -> dict[str, Any]:
    k = run.key
    return {"method": k.method, "variant": k.variant, "training": k.training, "lang": k.lang,
            "noise": k.noise, "seed": k.seed, "run_dir": str(run.run_dir),
            "config_hash": run.digest}  # fmt: skip
