"""A whole training run: data → method → trainer → test evaluation, `results.md` and `run.json`.

`train_from_config` reads the data through the data layer (`load_data_spec`, `TrainDataset`,
`TrainCollate`, `EvalDataset`); `run_training` does everything else on dataset objects, so tests
and other front ends can hand it their own.

A run folder holds: `run.json`, `assets/` (tokenizer, model configs), `checkpoints/{best,last}.json`
+ `.safetensors`, `tensorboard/`, `ranks/` (per-query ranks of the test set) and `results.md`.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

# the data layer is read through its package at call time: tests put a fake world in its place
import ccrkit.data as data_layer
from ccrkit.config import ConfigError, build, parse_override
from ccrkit.data.batch import TrainBatch
from ccrkit.data.datasets import TrainingData
from ccrkit.data.errors import DataError
from ccrkit.data.spec import DataSpec
from ccrkit.evaluate.protocol import (
    EvalSet,
    evaluate_languages,
    validate_languages,
    write_results,
)
from ccrkit.methods.base import Method
from ccrkit.methods.checkpoint import (
    ASSETS_DIR,
    CHECKPOINTS_DIR,
    check_plugins_loaded,
    checkpoint_path,
    load_module_state,
    model_tensors,
    read_checkpoint,
    write_checkpoint,
)
from ccrkit.models.base import BuildContext
from ccrkit.registry import import_plugins
from ccrkit.runs import RunRecord, claim_run_dir, run_record
from ccrkit.train.config import ResolvedRun, RunConfig, resolve_run
from ccrkit.train.distributed import DistEnv, barrier, init_process_group, resolve_device
from ccrkit.train.logger import TENSORBOARD_DIR
from ccrkit.train.state import seed_everything
from ccrkit.train.trainer import EpochCallback, Progress, Trainer, check_resumable

# evaluation sets: one, of the run's language, or {lang: set} over one gallery
EvalSets = EvalSet | Mapping[str, EvalSet]
RESULTS_FILE = "results.md"
RANKS_DIR = "ranks"
OUTPUTS = (CHECKPOINTS_DIR, ASSETS_DIR, TENSORBOARD_DIR, RANKS_DIR, RESULTS_FILE)


@dataclass
class RunOutcome:
    progress: Progress
    test: dict[str, dict[str, float]] = field(default_factory=dict)


def train_from_config(
    config: RunConfig | ResolvedRun, run_dir: str | Path, resume: bool = False, force: bool = False
) -> RunOutcome:
    """`ccrkit train`: open the configured data, then `run_training`."""
    run = resolve_run(config)
    data = open_run_data(run)
    return run_training(
        run, run_dir, data.train, data.collate, data.val, data.test, resume=resume, force=force
    )


@dataclass
class RunData:
    """A run config's data, opened and checked: what `run_training` takes."""

    train: TrainingData
    collate: Callable[[Callable[[list[str]], Any]], Callable]
    val: dict[str, EvalSet] | None
    test: dict[str, EvalSet] | None


def open_run_data(run: ResolvedRun) -> RunData:
    """Check every file the run reads (`data check`'s validation), then open its splits."""
    data = run.config.data
    spec = data_layer.load_data_spec(data.name)
    check_method_inputs(run, spec)
    roles = {data.train_split: ("source", *data.roles)}
    roles.update(
        {split: data_layer.EVAL_ROLES for split in (data.val_split, data.test_split) if split}
    )
    langs = list(dict.fromkeys([*data.target_langs, *data.evaluation_langs()]))
    data_layer.check_files(spec, data.root, roles, langs, data.feature)
    train_set = data_layer.TrainDataset(
        spec, data.root, split=data.train_split, target_langs=list(data.target_langs),
        roles=tuple(data.roles), feature=data.feature,
    )  # fmt: skip

    def evaluation(split: str | None) -> dict[str, EvalSet] | None:
        if split is None:
            return None
        return {
            lang: data_layer.EvalDataset(
                spec, data.root, split=split, lang=lang, feature=data.feature
            )
            for lang in data.evaluation_langs()
        }

    collate = (
        data_layer.TrainCollate
        if data.sort_batch_by is None
        else functools.partial(data_layer.TrainCollate, sort_by=data.sort_batch_by)
    )
    return RunData(train_set, collate, evaluation(data.val_split), evaluation(data.test_split))


def check_method_inputs(run: ResolvedRun, spec: DataSpec) -> None:
    """Every caption role the method needs is asked for and its training files exist — checked
    before any model is built, naming the missing file and how to do without it."""
    data, method = run.config.data, run.model.method
    name = method.name
    for role, why in method.required_roles().items():
        if role not in data.roles:
            raise ConfigError(
                f"method '{name}' needs '{role}' captions but data.roles is {list(data.roles)}: "
                f"add '{role}' to data.roles ({why})"
            )
        for lang in data.target_langs:
            path = spec.caption_path(data.root, data.train_split, role, lang)
            if path is None or not path.is_file():
                missing = (
                    f"data spec '{spec.name}' names no '{role}' caption file"
                    if path is None
                    else f"file not found: {path}"
                )
                raise DataError(
                    f"method '{name}' needs the '{role}:{lang}' captions of split "
                    f"'{data.train_split}' ({missing}); {why}"
                )
    method.check_training_data(spec, data.root, data.train_split, list(data.target_langs))


def run_training(
    config: RunConfig | ResolvedRun,
    run_dir: str | Path,
    train_set: TrainingData,
    make_collate: Callable[[Callable[[list[str]], Any]], Callable],
    val_set: EvalSets | None = None,
    test_set: EvalSets | None = None,
    resume: bool = False,
    force: bool = False,
    env: DistEnv | None = None,
    callbacks: Sequence[EpochCallback] = (),
) -> RunOutcome:
    """Train `config`'s method on `train_set`, select on `val_set`, report on `test_set`.

    `val_set` / `test_set`: one evaluation set (of `config.data.lang`) or {lang: set} over one
    gallery; with several languages validation selects on the mean of their selection scores and
    the test adds the cross-language row (MRV, mR spread).

    `make_collate(tokenize)` builds the batch collation from the method's tokenizer
    (`TrainCollate` of the data layer). `train_set` must offer `texts(role, lang)` when the
    built-in text encoder has to learn its tokenizer.
    """
    run = resolve_run(config)
    config = run.config
    env = env or DistEnv.from_environ()
    run_dir = Path(run_dir)
    device = resolve_device(config.train.device, env)
    init_process_group(env, config.train.dist_backend, device)
    if env.is_main:
        prepare_run_dir(run_dir, resume, force)
    barrier(env)
    seed_everything(config.seed)
    build_info = {"visual_dim": visual_dim(train_set)}
    method = build_run_method(run, run_dir, train_set, build_info, env)
    preparation = method.prepare_training(train_set)
    validator = None
    if val_set is not None:
        val_sets = by_language(val_set, config.data.lang)

        def validator(m: Method) -> tuple[dict[str, dict[str, float]], float]:
            return validate_languages(m, val_sets, config.eval, device)

    trainer = Trainer(
        method, train_set, make_collate(method.tokenize), config, run_dir, validator, build_info,
        env, callbacks,
    )  # fmt: skip
    if resume:  # before the record is rewritten: a run that cannot resume keeps its run.json
        trainer.restore()
    with _record(run_dir, config, env) as record:
        if record is not None and preparation:
            record.extra["preparation"] = preparation  # e.g. NRF's selected fraction and rule
            record.save()
        outcome = RunOutcome(trainer.fit(resume=resume))
        if env.is_main and test_set is not None:
            batches = functools.partial(training_batches, train_set, trainer.loader, device)
            outcome.test = test_best(method, test_set, config, run_dir, device, batches, record)
        if record is not None:
            record.metrics.update(outcome.test)
            record.extra.update(_summary(outcome.progress, resume))
    barrier(env)
    return outcome


def resume_config(run_dir: str | Path, overrides: Sequence[str] = ()) -> RunConfig:
    """The config a run was trained with (from its last checkpoint), plus `key=value` overrides.

    The checkpoint's `plugins:` are not imported from it: the user names them (`--plugin`, or a
    `plugins=[...]` override)."""
    path = checkpoint_path(run_dir, "last")
    record, _ = read_checkpoint(path)
    merged = OmegaConf.create(record.get("config") or {})
    for override in overrides:
        merged = OmegaConf.merge(merged, parse_override(override))
    try:
        config = build(RunConfig, merged, str(path))
    except ConfigError as err:
        raise ConfigError(f"resuming {run_dir}: {err}") from None
    if any(override.split("=", 1)[0].strip() == "plugins" for override in overrides):
        import_plugins(config.plugins)
    check_plugins_loaded(record.get("config") or {}, path)
    check_resumable(record, config, run_dir)  # before any data is read
    return config


def prepare_run_dir(run_dir: Path, resume: bool, force: bool) -> None:
    """A fresh run never silently overwrites an earlier one; `--resume` needs a checkpoint."""
    if resume:
        if not checkpoint_path(run_dir, "last").is_file():
            raise FileNotFoundError(f"{run_dir}: no checkpoint to resume (checkpoints/last.json)")
        return
    claim_run_dir(run_dir, OUTPUTS, force, resumable=True)


def build_run_method(
    run: ResolvedRun,
    run_dir: Path,
    train_set: TrainingData,
    build_info: dict[str, Any],
    env: DistEnv,
) -> Method:
    """The method, its assets (e.g. the learned tokenizer) saved once into `run_dir/assets`."""
    assets = run_dir / ASSETS_DIR
    method = None
    if env.is_main and not assets.exists():
        corpus = functools.partial(caption_corpus, train_set, run.config)
        method = run.model.build(BuildContext(build_info["visual_dim"], corpus))
        save_assets(method, assets)
    barrier(env)
    if method is None:  # other ranks, and resumed runs, rebuild from the saved assets
        method = run.model.build(BuildContext(build_info["visual_dim"], None, assets))
    return method


def save_assets(method: Method, assets: Path) -> None:
    """Write the assets into a temporary folder, then rename it: readers never see half of it."""
    assets.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=assets.parent, prefix=".assets-"))
    try:
        method.save_assets(staging)
        staging.rename(assets)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def caption_corpus(train_set: TrainingData, config: RunConfig) -> Iterator[str]:
    """Training captions of every loaded view: English sources and each role × target language."""
    yield from train_set.texts("source", None)
    for lang in config.data.target_langs:
        for role in config.data.roles:
            yield from train_set.texts(role, lang)


def visual_dim(train_set: TrainingData) -> int | None:
    """The last dimension of the first example's visual input (feature width for features/frames)."""
    visual = np.asarray(train_set[0].visual)
    return int(visual.shape[-1]) if visual.ndim else None


def by_language(sets: EvalSets, lang: str) -> dict[str, EvalSet]:
    """{lang: evaluation set}: a mapping as given, a single set as the set of `lang`."""
    return dict(sets) if isinstance(sets, Mapping) else {lang: sets}


def training_batches(
    train_set: TrainingData, loader: DataLoader, device: torch.device
) -> Iterator[TrainBatch]:
    """The training set once, in order, batched and collated as in training, on `device`."""
    ordered = DataLoader(
        train_set, batch_size=loader.batch_size, shuffle=False, collate_fn=loader.collate_fn
    )
    for batch in ordered:
        yield batch.to(device)


def test_best(
    method: Method, test_set: EvalSets, config: RunConfig, run_dir: Path, device: torch.device,
    batches: Callable[[], Iterator[TrainBatch]] | None = None, record: RunRecord | None = None,
) -> dict[str, dict[str, float]]:  # fmt: skip
    """Load the best checkpoint, let the method adjust it from the training batches
    (`Method.before_test`; the adjusted model replaces the best checkpoint, so what is served is
    what was tested), score the test set (native, each fusion weight, English) in every
    language, and across languages when there are several."""
    path = checkpoint_path(run_dir, "best")
    saved, tensors = read_checkpoint(path)
    load_module_state(method, tensors, str(path))
    changed = method.before_test(batches) if batches is not None else {}
    if changed:
        write_checkpoint(run_dir, "best", {**saved, "before_test": changed}, model_tensors(method))
        if record is not None:
            record.extra["before_test"] = changed
    results = evaluate_languages(
        method, by_language(test_set, config.data.lang), config.eval.fusion_weights, config.eval,
        device, ranks_dir=run_dir / RANKS_DIR, progress=config.train.progress,
    )  # fmt: skip
    write_results(run_dir / RESULTS_FILE, results, f"{run_dir.name}: test ({config.data.name})")
    return results


@contextlib.contextmanager
def _record(run_dir: Path, config: RunConfig, env: DistEnv) -> Iterator[Any]:
    if not env.is_main:
        yield None
        return
    with run_record(run_dir, "train", config, config.seed) as record:
        yield record


def _summary(progress: Progress, resumed: bool) -> dict[str, Any]:
    return {
        "resumed": resumed, "epochs": progress.epoch, "best_epoch": progress.best_epoch,
        "best_score": progress.best_score, "finish_reason": progress.finish_reason,
        "history": progress.history,
    }  # fmt: skip
