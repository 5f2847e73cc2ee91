"""The trainer: optimiser, schedules, checkpoints, resume, DDP, logging, and whole runs."""

from __future__ import annotations

from ccrkit.train.config import DataConfig, RunConfig, TrainConfig
from ccrkit.train.distributed import DistEnv
from ccrkit.train.run import RunOutcome, run_training, train_from_config
from ccrkit.train.trainer import Progress, Trainer

__all__ = [
    "DataConfig",
    "DistEnv",
    "Progress",
    "RunConfig",
    "RunOutcome",
    "TrainConfig",
    "Trainer",
    "run_training",
    "train_from_config",
]
