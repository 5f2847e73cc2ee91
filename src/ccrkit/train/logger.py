"""TensorBoard scalars of a run (rank 0): loss terms and lr per step, validation per epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TENSORBOARD_DIR = "tensorboard"


class ScalarLogger:
    """Writes to `<run_dir>/tensorboard`; `enabled=False` makes every call a no-op.

    `purge_step` (the resumed step) drops events a killed run wrote after its last checkpoint,
    so a resumed curve has no duplicated tail.
    """

    def __init__(self, run_dir: Path, enabled: bool = True, purge_step: int | None = None) -> None:
        self.writer = None
        if enabled:
            # tensorboard loads only for runs that log to it (train.tensorboard)
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(
                str(Path(run_dir) / TENSORBOARD_DIR), purge_step=purge_step or None
            )

    def step(self, step: int, scalars: dict[str, float]) -> None:
        if self.writer is None:
            return
        for name, value in scalars.items():
            self.writer.add_scalar(name if name == "lr" else f"train/{name}", value, step)

    def epoch(
        self, epoch: int, summary: dict[str, Any], metrics: dict[str, dict[str, float]] | None
    ) -> None:
        if self.writer is None:
            return
        for name in ("loss", "samples_per_s", "lr"):
            self.writer.add_scalar(f"epoch/{name}", summary[name], epoch)
        if summary.get("score") is not None:
            self.writer.add_scalar("val/score", summary["score"], epoch)
        for label, values in (metrics or {}).items():
            for key, value in values.items():
                self.writer.add_scalar(f"val/{label}/{key}", value, epoch)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
