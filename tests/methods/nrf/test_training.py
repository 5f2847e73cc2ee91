"""NRF under the one trainer: learning on the fake world, and the whole path on the tiny synthetic
world — `ccrkit train` with the round-trip selector, then index, search and serve."""

from __future__ import annotations

import json
import math
from pathlib import Path

from later_methods import fake_world_config, index_and_serve, tiny_world_overrides
from trainfakes import FakeCollate, FakeEvalDataset, FakeTrainDataset, FakeWorld

from ccrkit.config import load_config
from ccrkit.train import RunConfig, run_training
from ccrkit.train.run import train_from_config


def test_nrf_learns_the_fake_world_far_above_chance(tmp_path: Path) -> None:
    world = FakeWorld()
    config = fake_world_config({"name": "nrf", "selector": "similarity"})
    outcome = run_training(
        config, tmp_path, FakeTrainDataset(world), FakeCollate, FakeEvalDataset(world),
        FakeEvalDataset(world),
    )  # fmt: skip
    history = outcome.progress.history
    assert all(math.isfinite(h["loss"]) for h in history)
    assert history[-1]["loss"] < history[0]["loss"]
    assert {"guidance/mt:de", "cross_lingual/mt:de"} <= set(history[-1])
    # 48 items, one human German query each: chance SumR is 66.7 (R@1/5/10 2.1/10.4/20.8 % per
    # direction); the German queries are phrased unlike any MT caption seen in training
    assert outcome.test["de native"]["sumr"] >= 120.0, outcome.test


def test_nrf_on_the_tiny_world_selects_trains_indexes_and_serves(tiny_world, tmp_path) -> None:
    overrides = [*tiny_world_overrides(tiny_world, epochs=1), "data.val_split=null"]
    run_dir = tmp_path / "run"
    outcome = train_from_config(load_config(RunConfig, "nrf-world", overrides), run_dir)
    assert math.isfinite(outcome.progress.history[0]["loss"]) and "de native" in outcome.test
    record = json.loads((run_dir / "run.json").read_text())
    selection = record["preparation"]
    assert (
        selection["selector"] == "roundtrip" and selection["rule"] == "top 50% by round-trip chrF"
    )
    de = selection["languages"]["de"]
    assert de["kept"] == round(0.5 * de["total"]) and de["scores"].startswith("computed")
    results = index_and_serve(run_dir, tmp_path)
    assert len(results) == 3 and all(r["id"].startswith("img") for r in results)
