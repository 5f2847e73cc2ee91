"""The one trainer: any method, alone or under DDP, with validation, checkpoints and resume.

Per optimiser step it sums the method's named loss terms and logs each; it never asks which method
it runs. After every epoch: validation through a callback (the evaluation protocol), NRCCR's
plateau rule or the per-step schedule, early stopping, then the best and last checkpoints (rank 0).
`fit(resume=True)` continues bit-for-bit from the last checkpoint: model, optimisers, schedule,
scaler, early-stopping counters and every process's RNG state are restored, and each epoch's data
order depends only on (seed, epoch). A finished run resumes when the config no longer counts it as
finished (a larger `train.epochs`, or a larger or zero `train.early_stop`): training longer.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from ccrkit.config import to_dict
from ccrkit.data.batch import TrainBatch
from ccrkit.methods.base import Method
from ccrkit.methods.checkpoint import (
    checkpoint_path,
    load_module_state,
    model_tensors,
    read_checkpoint,
    write_checkpoint,
)
from ccrkit.train.auxiliary import AuxiliaryStepper
from ccrkit.train.config import RunConfig, TrainConfig
from ccrkit.train.distributed import DistEnv, broadcast_object, gather_objects, resolve_device
from ccrkit.train.logger import ScalarLogger
from ccrkit.train.optim import LRSchedule, build_optimizer, parameter_groups
from ccrkit.train.state import decode, encode, rng_state, seed_everything, set_rng_state

Metrics = dict[str, dict[str, float]]  # {evaluation row: {metric: value}}
Validator = Callable[[Method], tuple[Metrics, float]]
EpochCallback = Callable[["Trainer", dict[str, Any]], None]
# Keys a resumed run may change. A longer train.epochs extends the run, also a finished one; a
# per-step schedule (cosine, linear) is then stretched to the new length from the step reached,
# so a run that had decayed to its minimum learns again (`LRSchedule.stretch_to`).
RESUMABLE_CHANGES = (
    "train.epochs",
    "train.early_stop",
    "train.progress",
    "train.tensorboard",
    "train.log_every",
    "data.num_workers",
)


@dataclass
class Progress:
    """Where training stands; saved in every checkpoint record."""

    epoch: int = 0  # completed epochs
    step: int = 0  # optimiser steps taken
    best_score: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    finished: bool = False
    finish_reason: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    def __init__(
        self,
        method: Method,
        train_set: Dataset,
        collate: Callable[[list[Any]], Any],
        config: RunConfig,
        run_dir: str | Path,
        validate: Validator | None = None,
        build_info: dict[str, Any] | None = None,
        env: DistEnv | None = None,
        callbacks: Sequence[EpochCallback] = (),
    ) -> None:
        self.config, self.cfg, self.run_dir = config, config.train, Path(run_dir)
        self.env = env or DistEnv.from_environ()
        self.device = resolve_device(self.cfg.device, self.env)
        self.method = method.to(self.device)
        self.validate, self.build_info, self.callbacks = validate, build_info or {}, list(callbacks)
        self.auxiliary = {
            spec.name: AuxiliaryStepper(spec, self.env) for spec in method.extra_optimizers()
        }
        method.bind_auxiliary_steps(self.auxiliary)
        aux_params = [p for stepper in self.auxiliary.values() for p in stepper.parameters]
        self.optimizer = build_optimizer(parameter_groups(method, self.cfg, aux_params), self.cfg)
        self.model = self._wrap(method)
        self.sampler, self.loader = self._loader(train_set, collate)
        steps_per_epoch = math.ceil(len(self.loader) / self.cfg.grad_accum)
        self.schedule = LRSchedule(self.optimizer, self.cfg, steps_per_epoch * self.cfg.epochs)
        fp16 = self.cfg.amp and self.device.type == "cuda" and self.cfg.amp_dtype == "float16"
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.progress = Progress()
        self.restored = False
        self.logger: ScalarLogger | None = None

    # ---------------------------------------------------------------- set-up
    def _wrap(self, method: Method) -> torch.nn.Module:
        if not self.env.distributed:
            return method
        if self.cfg.sync_batchnorm:
            method = torch.nn.SyncBatchNorm.convert_sync_batchnorm(method)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(
            method, device_ids=ids, find_unused_parameters=self.cfg.find_unused_parameters
        )

    def _loader(self, dataset: Dataset, collate: Callable) -> tuple[DistributedSampler, DataLoader]:
        world = self.env.world_size
        if self.cfg.batch_size % world:
            raise ValueError(
                f"train.batch_size {self.cfg.batch_size} is global and must divide evenly over "
                f"{world} processes"
            )
        sampler = DistributedSampler(
            dataset, num_replicas=world, rank=self.env.rank, shuffle=True,
            seed=self.config.seed, drop_last=self.cfg.drop_last,
        )  # fmt: skip
        loader = DataLoader(
            dataset, batch_size=self.cfg.batch_size // world, sampler=sampler, collate_fn=collate,
            num_workers=self.config.data.num_workers, drop_last=self.cfg.drop_last,
        )  # fmt: skip
        if len(loader) == 0:
            raise ValueError(
                f"the training set ({len(dataset)} examples) gives no full batch of "  # type: ignore[arg-type]
                f"{self.cfg.batch_size}; lower train.batch_size or set train.drop_last=false"
            )
        return sampler, loader

    # ---------------------------------------------------------------- the loop
    def fit(self, resume: bool = False) -> Progress:
        if resume and not self.restored:
            self.restore()
        elif not resume:
            seed_everything(self.config.seed * 1000 + self.env.rank)
        if self.env.is_main:
            self.logger = ScalarLogger(
                self.run_dir, self.cfg.tensorboard, purge_step=self.progress.step
            )
        try:
            while not self.progress.finished:
                self._epoch(self.progress.epoch + 1)
        finally:
            if self.logger is not None:
                self.logger.close()
        return self.progress

    def _epoch(self, epoch: int) -> None:
        stats = self._train_epoch(epoch)
        metrics, score = self._validate()
        improved = self._update_best(epoch, score)
        self.schedule.epoch_end(improved)
        self._update_finish(epoch)
        summary = {
            "epoch": epoch,
            **stats,
            "score": score,
            "improved": improved,
            "lr": self.schedule.factor() * self.cfg.lr,
        }
        self.progress.epoch = epoch
        self.progress.history.append(summary)
        self._save(metrics, score, improved)
        if self.logger is not None:
            self.logger.epoch(epoch, summary, metrics)
            tqdm.write(_epoch_line(summary, self.cfg.epochs, self.config.eval.select_metric))
        for callback in self.callbacks:
            callback(self, summary)

    def _train_epoch(self, epoch: int) -> dict[str, Any]:
        self.model.train()
        self.sampler.set_epoch(epoch)
        self.method.start_epoch(epoch)
        sums: dict[str, float] = defaultdict(float)
        batches, examples, started = 0, 0, time.perf_counter()
        bar = tqdm(
            self.loader, desc=f"epoch {epoch}/{self.cfg.epochs}", leave=False,
            disable=not (self.cfg.progress and self.env.is_main),
        )  # fmt: skip
        for index, batch in enumerate(bar):
            boundary = (index + 1) % self.cfg.grad_accum == 0 or index + 1 == len(self.loader)
            terms = self._forward_backward(batch.to(self.device), boundary, epoch)
            if boundary:
                self._optimizer_step(terms)
            for name, value in terms.items():
                sums[name] += value
            batches, examples = batches + 1, examples + len(batch)
            bar.set_postfix(loss=f"{terms['loss']:.4f}")
        seconds = time.perf_counter() - started
        total = examples * self.env.world_size
        return {
            **{name: value / batches for name, value in sums.items()},
            "examples": total, "seconds": seconds, "samples_per_s": total / max(seconds, 1e-9),
        }  # fmt: skip

    def _forward_backward(self, batch: TrainBatch, boundary: bool, epoch: int) -> dict[str, float]:
        sync = boundary or not self.env.distributed
        with contextlib.nullcontext() if sync else self.model.no_sync():  # type: ignore[operator]
            with self._autocast():
                terms = self.model(batch)
                if not terms:
                    raise ValueError("the method returned no loss terms for this batch")
                loss = sum(terms.values())
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"loss is {loss.item()} at epoch {epoch}, step {self.progress.step}: "
                    f"terms { ({k: float(v) for k, v in terms.items()}) }; lower train.lr or check the data"
                )
            self.scaler.scale(loss / self.cfg.grad_accum).backward()
        return {"loss": float(loss.detach()), **{k: float(v.detach()) for k, v in terms.items()}}

    def _autocast(self) -> contextlib.AbstractContextManager:
        if not (self.cfg.amp and self.device.type == "cuda"):
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=getattr(torch, self.cfg.amp_dtype))

    def _optimizer_step(self, terms: dict[str, float]) -> None:
        if self.cfg.grad_clip:
            self.scaler.unscale_(self.optimizer)
            params = [p for group in self.optimizer.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.schedule.step()
        self.progress.step += 1
        if self.logger is not None and self.progress.step % self.cfg.log_every == 0:
            lr = self.optimizer.param_groups[0]["lr"]
            self.logger.step(self.progress.step, {**terms, "lr": lr})

    # ---------------------------------------------------------------- epoch end
    def _validate(self) -> tuple[dict[str, dict[str, float]] | None, float | None]:
        if self.validate is None:
            return None, None
        metrics, score = self.validate(self.method) if self.env.is_main else (None, None)
        return metrics, broadcast_object(score, self.env)

    def _update_best(self, epoch: int, score: float | None) -> bool:
        state = self.progress
        improved = score is None or state.best_score is None or score > state.best_score
        if improved:
            state.best_score, state.best_epoch, state.bad_epochs = score, epoch, 0
        else:
            state.bad_epochs += 1
        return improved

    def _update_finish(self, epoch: int) -> None:
        reason = finish_reason(epoch, self.progress.bad_epochs, self.cfg)
        self.progress.finished, self.progress.finish_reason = reason is not None, reason

    def _record(self, metrics: Metrics | None, score: float | None) -> dict[str, Any]:
        return {
            **asdict(self.progress), "config": to_dict(self.config), "build": self.build_info,
            "metrics": metrics, "score": score, "world_size": self.env.world_size,
        }  # fmt: skip

    def _save(self, metrics: Metrics | None, score: float | None, improved: bool) -> None:
        rng = gather_objects(rng_state(), self.env)  # every rank takes part
        if not self.env.is_main:
            return
        record = self._record(metrics, score)
        if improved:  # best before last: a kill in between re-runs this epoch on resume
            write_checkpoint(self.run_dir, "best", record, model_tensors(self.method))
        tensors = model_tensors(self.method)
        record["trainer"] = encode(self._trainer_state(rng), "state.", tensors)
        write_checkpoint(self.run_dir, "last", record, tensors)

    def _trainer_state(self, rng: list[Any]) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "auxiliary": {name: s.optimizer.state_dict() for name, s in self.auxiliary.items()},
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng,
        }

    # ---------------------------------------------------------------- resume
    def restore(self) -> None:
        """Load the last checkpoint (`fit(resume=True)` calls it when nobody did): callers that
        record the run call it first, so a run that cannot resume leaves its record untouched."""
        path = checkpoint_path(self.run_dir, "last")
        record, tensors = read_checkpoint(path)
        check_resumable(record, self.config, self.run_dir)
        load_module_state(self.method, tensors, str(path))
        state = decode(record["trainer"], tensors)
        self.optimizer.load_state_dict(state["optimizer"])
        for name, stepper in self.auxiliary.items():
            stepper.optimizer.load_state_dict(state["auxiliary"][name])
        self.schedule.load_state_dict(state["schedule"])
        if flatten_config(record.get("config") or {}).get("train.epochs") != self.cfg.epochs:
            self.schedule.stretch_to(
                math.ceil(len(self.loader) / self.cfg.grad_accum) * self.cfg.epochs
            )
        self.scaler.load_state_dict(state["scaler"])
        self.progress = Progress(**{k: record[k] for k in asdict(Progress()) if k in record})
        reason = finish_reason(self.progress.epoch, self.progress.bad_epochs, self.cfg)
        self.progress.finished, self.progress.finish_reason = reason is not None, reason
        rng = state["rng"]
        if len(rng) == self.env.world_size:
            set_rng_state(rng[self.env.rank])
        else:  # another process count: the data order changes anyway; stay deterministic
            seed_everything(self.config.seed * 1000 + self.env.rank + 7919 * self.progress.epoch)
        self.restored = True


def finish_reason(epoch: int, bad_epochs: int, cfg: TrainConfig) -> str | None:
    """Why training stops after `epoch` completed epochs under `cfg` (a TrainConfig), or None."""
    if cfg.early_stop and bad_epochs >= cfg.early_stop:
        return f"early stop: {cfg.early_stop} epochs without improvement"
    if epoch >= cfg.epochs:
        return f"reached train.epochs = {cfg.epochs}"
    return None


def check_resumable(record: dict[str, Any], config: RunConfig, run_dir: str | Path) -> None:
    """Raise a ValueError when the last checkpoint's `record` cannot continue under `config`:
    another config (the key is named), or a run that `config` still counts as finished."""
    path = checkpoint_path(run_dir, "last")
    _check_same_config(record.get("config") or {}, to_dict(config), path)
    epoch, bad = int(record.get("epoch") or 0), int(record.get("bad_epochs") or 0)
    train = config.train
    if not record.get("finished") or finish_reason(epoch, bad, train) is None:
        return
    needed = []
    if epoch >= train.epochs:
        needed.append(f"a larger train.epochs (e.g. train.epochs={epoch + max(1, epoch // 2)})")
    if train.early_stop and bad >= train.early_stop:
        needed.append(f"a larger train.early_stop than {train.early_stop} (or 0)")
    raise ValueError(
        f"{run_dir}: this run already finished after epoch {epoch} "
        f"({record.get('finish_reason')}); nothing to resume — to train longer pass "
        f"{' and '.join(needed)} after --resume; to score it, "
        f"`ccrkit evaluate --checkpoint {run_dir}`"
    )


def _check_same_config(saved: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    """Resuming with a different config would not continue the same run; say which key differs."""
    flat_saved, flat_current = flatten_config(saved), flatten_config(current)
    for key in sorted(set(flat_saved) | set(flat_current)):
        if key in RESUMABLE_CHANGES:
            continue
        if flat_saved.get(key) != flat_current.get(key):
            raise ValueError(
                f"{path}: the run was trained with {key} = {flat_saved.get(key)!r} but the "
                f"resumed config has {flat_current.get(key)!r}; resume with the run's own config"
            )


def flatten_config(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A config as dotted keys of its sections (`train.epochs`); values below stay whole."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and name.count(".") < 1:
            flat.update(flatten_config(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _epoch_line(summary: dict[str, Any], epochs: int, metric: str) -> str:
    score = summary["score"]
    shown = (
        ""
        if score is None
        else f", val {metric} {score:.2f}{' (best)' if summary['improved'] else ''}"
    )
    return (
        f"epoch {summary['epoch']}/{epochs}: loss {summary['loss']:.4f}{shown}, "
        f"{summary['samples_per_s']:.0f} samples/s"
    )
