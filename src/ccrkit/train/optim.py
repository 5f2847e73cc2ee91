"""Optimiser, parameter groups and learning-rate schedules of the trainer."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from ccrkit.train.config import TrainConfig


def lr_multiplier(name: str, lr_mult: dict[str, float]) -> float:
    """The multiplier of the longest `lr_mult` key contained in the parameter name (else 1)."""
    hits = [key for key in lr_mult if key in name]
    return float(lr_mult[max(hits, key=len)]) if hits else 1.0


def parameter_groups(
    model: nn.Module, config: TrainConfig, exclude: Iterable[nn.Parameter] = ()
) -> list[dict[str, Any]]:
    """Trainable parameters grouped by (lr multiplier, decay): no weight decay on biases, norm
    weights and scalars (every parameter with fewer than two dimensions); `exclude` holds the
    parameters of auxiliary optimisers."""
    skip = {id(p) for p in exclude}
    groups: dict[tuple[float, bool], dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad or id(param) in skip:
            continue
        mult, decay = lr_multiplier(name, config.lr_mult), param.ndim >= 2
        group = groups.setdefault(
            (mult, decay),
            {
                "params": [],
                "lr": config.lr * mult,
                "weight_decay": config.weight_decay if decay else 0.0,
            },
        )
        group["params"].append(param)
    if not groups:
        raise ValueError("the method has no trainable parameters (is every layer frozen?)")
    return list(groups.values())


def build_optimizer(groups: list[dict[str, Any]], config: TrainConfig) -> torch.optim.Optimizer:
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return kind(groups, lr=config.lr, betas=tuple(config.betas), eps=config.eps)  # type: ignore[arg-type]


def step_factor(step: int, total: int, warmup: int, kind: str, min_ratio: float = 0.0) -> float:
    """The per-step lr factor: linear warm-up over `warmup` steps, then constant, cosine or linear
    decay from 1 to `min_ratio` at step `total` (plateau schedules use 1 after warm-up)."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if kind in ("constant", "plateau") or total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if kind == "cosine":
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    if kind == "linear":
        return min_ratio + (1 - min_ratio) * (1 - progress)
    raise ValueError(f"unknown schedule {kind!r}")


class LRSchedule:
    """Sets every group's lr = base lr × step factor × epoch factor.

    The epoch factor is NRCCR's plateau rule (methods.md §1.3), active with schedule "plateau":
    after every epoch lr × `plateau_decay` (0.99); if validation did not improve and at least
    `plateau_patience` (3) epochs passed since the last cut, lr × `plateau_factor` (0.5) as well.
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int
    ) -> None:
        self.optimizer, self.config, self.total_steps = optimizer, config, total_steps
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.steps, self.epoch_factor, self.epochs_since_cut = 0, 1.0, 0
        self._apply()

    def step(self) -> None:
        self.steps += 1
        self._apply()

    def epoch_end(self, improved: bool) -> None:
        if self.config.schedule != "plateau":
            return
        self.epoch_factor *= self.config.plateau_decay
        self.epochs_since_cut += 1
        if not improved and self.epochs_since_cut >= self.config.plateau_patience:
            self.epoch_factor *= self.config.plateau_factor
            self.epochs_since_cut = 0
        self._apply()

    def factor(self) -> float:
        c = self.config
        return self.epoch_factor * step_factor(
            self.steps, self.total_steps, c.warmup_steps, c.schedule, c.min_lr_ratio
        )

    def _apply(self) -> None:
        factor = self.factor()
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * factor

    def stretch_to(self, total_steps: int) -> None:
        """Spread a per-step schedule over a new length from the step reached (a resumed run
        trained longer): the lr continues from the longer schedule's value at that step."""
        self.total_steps = total_steps
        self._apply()

    def state_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "epoch_factor": self.epoch_factor,
            "epochs_since_cut": self.epochs_since_cut,
            "total_steps": self.total_steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps, self.epoch_factor = int(state["steps"]), float(state["epoch_factor"])
        self.epochs_since_cut, self.total_steps = (
            int(state["epochs_since_cut"]),
            int(state["total_steps"]),
        )
        self._apply()
