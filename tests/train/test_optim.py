"""Parameter groups and learning-rate schedules, against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ccrkit.train.config import TrainConfig
from ccrkit.train.optim import (
    LRSchedule,
    build_optimizer,
    lr_multiplier,
    parameter_groups,
    step_factor,
)


def test_step_factor_warmup_then_cosine_or_linear() -> None:
    assert step_factor(0, 10, 4, "cosine") == pytest.approx(0.25)
    assert step_factor(3, 10, 4, "cosine") == pytest.approx(1.0)
    assert step_factor(7, 10, 4, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert step_factor(10, 10, 4, "cosine") == pytest.approx(0.0)
    assert step_factor(7, 10, 4, "linear", min_ratio=0.2) == pytest.approx(0.2 + 0.8 * 0.5)
    assert step_factor(9, 10, 0, "constant") == 1.0 == step_factor(9, 10, 0, "plateau")


def test_plateau_is_nrccrs_rule() -> None:
    """x0.99 every epoch; x0.5 more when not improved and >= 3 epochs since the last cut."""
    param = nn.Parameter(torch.zeros(1))
    config = TrainConfig(lr=1.0, schedule="plateau")
    optimizer = torch.optim.Adam([param], lr=1.0)
    schedule = LRSchedule(optimizer, config, total_steps=100)
    seen = []
    for improved in (True, False, False, False, False, False):
        schedule.epoch_end(improved)
        seen.append(optimizer.param_groups[0]["lr"])
    d = 0.99
    assert seen == pytest.approx([d, d**2, d**3 * 0.5, d**4 * 0.5, d**5 * 0.5, d**6 * 0.25])


def test_cosine_schedule_ignores_epoch_ends_and_restores_from_state() -> None:
    param = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=2.0)
    schedule = LRSchedule(optimizer, TrainConfig(lr=2.0, warmup_steps=2), total_steps=6)
    for _ in range(3):
        schedule.step()
    schedule.epoch_end(False)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(2.0 * step_factor(3, 6, 2, "cosine"))
    other = torch.optim.Adam([param], lr=2.0)
    copy = LRSchedule(other, TrainConfig(lr=2.0, warmup_steps=2), total_steps=6)
    copy.load_state_dict(schedule.state_dict())
    assert other.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.text = nn.Linear(3, 3)
        self.text_head = nn.Linear(3, 2)
        self.norm = nn.LayerNorm(2)
        self.frozen = nn.Linear(2, 2).requires_grad_(False)
        self.scale = nn.Parameter(torch.zeros(()))


def test_groups_skip_decay_on_biases_norms_scalars_and_apply_multipliers() -> None:
    model = Tiny()
    config = TrainConfig(lr=1.0, weight_decay=0.1, lr_mult={"text": 0.1, "text_head": 3.0})
    groups = parameter_groups(model, config, exclude=[model.scale])
    names = {id(p): n for n, p in model.named_parameters()}
    table = sorted(
        (g["lr"], g["weight_decay"], sorted(names[id(p)] for p in g["params"])) for g in groups
    )
    assert table == [
        (0.1, 0.0, ["text.bias"]),
        (0.1, 0.1, ["text.weight"]),
        (1.0, 0.0, ["norm.bias", "norm.weight"]),
        (3.0, 0.0, ["text_head.bias"]),
        (3.0, 0.1, ["text_head.weight"]),
    ]
    assert lr_multiplier("visual.x", config.lr_mult) == 1.0
    assert isinstance(build_optimizer(groups, config), torch.optim.AdamW)


def test_a_fully_frozen_model_is_an_error() -> None:
    with pytest.raises(ValueError, match="no trainable parameters"):
        parameter_groups(nn.Linear(2, 2).requires_grad_(False), TrainConfig())
