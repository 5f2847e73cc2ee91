"""Expand a grid into runs: one resolved run config per (method, variant, language, noise, seed),
named by a hash of that config and of the world it reads, so a rerun only trains what is missing
and a run shared by two experiments (e.g. the full method at the default noise) trains once."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from ccrkit.config import build, parse_override, read_yaml, resolve_config_path, to_dict
from ccrkit.methods.registry import required_roles
from ccrkit.report.spec import SEPARATE, ExperimentSpec, GridSpec
from ccrkit.train.config import RunConfig

# keys that change how a run is shown or how fast it goes, never its numbers
VOLATILE = {("train", "progress"), ("train", "tensorboard"), ("data", "num_workers")}
# keys added after grids were first run, left out of the hash while they hold the default that
# reproduces the earlier behaviour (so adding them did not invalidate cached runs)
NEUTRAL_DEFAULTS: dict[tuple[str, str], Any] = {("data", "eval_langs"): []}
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


@dataclass
class PlannedRun:
    key: RunKey
    config: RunConfig
    digest: str
    run_dir: Path

    @property
    def name(self) -> str:
        return self.run_dir.name


def variants_of(experiment: ExperimentSpec) -> dict[str, list[str]]:
    return dict(experiment.variants) or {PLAIN: []}


def run_overrides(grid: GridSpec, key: RunKey, variant: list[str], root: Path) -> list[str]:
    """The grid's, the method's and the variant's overrides, then seed and data: a separate run
    trains on its language; a joint run on all of its languages (validated and tested in each,
    `DataConfig.evaluation_langs`)."""
    method, langs = grid.methods[key.method], key.langs
    return [
        *grid.overrides, *method.overrides, *variant, f"seed={key.seed}",
        f"data.lang={langs[0]}", f"data.target_langs=[{','.join(langs)}]", f"data.root={root}",
    ]  # fmt: skip


def language_groups(experiment: ExperimentSpec, training: str) -> list[str]:
    """Run languages of a training mode: each language alone, or all of them joined."""
    langs = list(dict.fromkeys(experiment.langs))
    return langs if training == SEPARATE else [JOINED.join(langs)]


def config_digest(config: RunConfig, world_id: str) -> str:
    data = to_dict(config)
    for section, key in VOLATILE:
        data.get(section, {}).pop(key, None)
    for (section, key), neutral in NEUTRAL_DEFAULTS.items():
        if data.get(section, {}).get(key, neutral) == neutral:
            data.get(section, {}).pop(key, None)
    text = json.dumps({"config": data, "world": world_id}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.cache
def _config_file(name: str) -> dict[str, Any]:
    return read_yaml(resolve_config_path(name))


def resolve_config(name: str, overrides: list[str], source: str) -> RunConfig:
    """What `load_config(RunConfig, name, overrides)` gives, with the file read once per grid and
    the overrides merged together before one typed merge (a grid resolves hundreds of configs),
    and the method section validated too, so a typo in a variant fails before any training."""
    layers = [OmegaConf.create(_config_file(name)), *(parse_override(o) for o in overrides)]
    where = f"{source} ({name} + overrides)"
    config = build(RunConfig, layers, where)
    required_roles(config.method, where)  # validates the method section against its schema
    return config


def plan_experiment(
    grid: GridSpec, experiment: ExperimentSpec, worlds: dict[float, tuple[Path, str]]
) -> list[PlannedRun]:
    """Every run of one experiment; `worlds` maps a noise level to (root, world identity)."""
    runs = []
    groups = [
        (mode, lang) for mode in experiment.training for lang in language_groups(experiment, mode)
    ]
    axes = (experiment.methods, variants_of(experiment).items(), groups,
            grid.noise_levels(experiment), experiment.seeds)  # fmt: skip
    for method, (variant, extra), (training, lang), noise, seed in itertools.product(*axes):
        key = RunKey(method, variant, lang, float(noise), int(seed), training)
        root, world_id = worlds[float(noise)]
        source = f"grid {grid.name}, experiment {experiment.name}, {method}/{variant}"
        config = resolve_config(
            grid.methods[method].config, run_overrides(grid, key, extra, root), source
        )
        digest = config_digest(config, world_id)
        label = "" if variant == PLAIN else "-" + re.sub(r"[^A-Za-z0-9.]+", "_", variant)
        name = f"{method}{label}-{lang}-noise{noise:g}-seed{seed}-{digest[:10]}"
        runs.append(PlannedRun(key, config, digest, Path(grid.runs_dir) / name))
    return runs


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
