"""CL2CM under the one trainer: the two stages across epochs, learning on the fake world, and the
whole path on the tiny synthetic world — `ccrkit train`, then index, search and serve."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from later_methods import fake_world_config, index_and_serve, tiny_world_overrides
from trainfakes import FakeCollate, FakeEvalDataset, FakeTrainDataset, FakeWorld

from ccrkit.config import load_config
from ccrkit.train import RunConfig, run_training
from ccrkit.train.run import train_from_config


def test_cl2cm_two_stages_learn_the_fake_world_far_above_chance(tmp_path: Path) -> None:
    world = FakeWorld()
    config = fake_world_config({"name": "cl2cm", "schedule": "two_stage", "cl_epochs": 2}, 12)
    outcome = run_training(
        config, tmp_path, FakeTrainDataset(world), FakeCollate, FakeEvalDataset(world),
        FakeEvalDataset(world),
    )  # fmt: skip
    history = outcome.progress.history
    assert all(math.isfinite(h["loss"]) for h in history)
    cl, cm = history[:2], history[2:]
    assert all(set(h) >= {"cl_sentence/mt:de", "cl_word_ot/mt:de"} for h in cl)
    assert all("contrastive/source" not in h for h in cl)
    assert all(set(h) >= {"contrastive/mt:de", "relational_kt/mt:de"} for h in cm)
    assert cl[1]["cl_sentence/mt:de"] < cl[0]["cl_sentence/mt:de"]
    assert outcome.progress.best_epoch > 2  # the CM network was selected once it had trained
    # 48 items, one human German query each: chance SumR is 66.7
    assert outcome.test["de native"]["sumr"] >= 120.0, outcome.test


def test_cl2cm_on_the_tiny_world_trains_indexes_and_serves(tiny_world, tmp_path) -> None:
    overrides = [*tiny_world_overrides(tiny_world, epochs=2), "data.val_split=null"]
    run_dir = tmp_path / "run"
    outcome = train_from_config(load_config(RunConfig, "cl2cm-world", overrides), run_dir)
    first, second = outcome.progress.history
    assert "cl_word_ot/mt:de" in first and "relational_kt/mt:de" in second
    assert math.isfinite(first["loss"]) and math.isfinite(second["loss"])
    results = index_and_serve(run_dir, tmp_path)
    assert len(results) == 3 and all(r["id"].startswith("img") for r in results)


class Killed(Exception):
    pass


def test_a_resumed_run_continues_in_the_stage_of_its_epoch(tmp_path: Path) -> None:
    world = FakeWorld()
    config = fake_world_config({"name": "cl2cm", "schedule": "two_stage", "cl_epochs": 1}, 2)

    def kill_after_the_first_epoch(trainer, summary) -> None:
        raise Killed

    data = (FakeTrainDataset(world), FakeCollate, FakeEvalDataset(world), None)
    with pytest.raises(Killed):
        run_training(config, tmp_path, *data, callbacks=[kill_after_the_first_epoch])
    outcome = run_training(config, tmp_path, *data, resume=True)
    first, second = outcome.progress.history
    assert set(first) >= {"cl_sentence/mt:de"} and "contrastive/source" not in first
    assert set(second) >= {"contrastive/source", "relational_kt/mt:de"}
    assert "cl_sentence/mt:de" not in second
