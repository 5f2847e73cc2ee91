"""The world-power grid (issue 18, item 5) and the targets its benchmark checks."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from ccrkit.report import load_grid, run_report
from ccrkit.report.plan import resolve_config

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_world_power.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_world_power", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_power_grid_trains_the_baseline_on_world_mbert(tmp_path: Path) -> None:
    levels = (0.0, 0.1, 0.2, 0.3, 0.5)
    for n in levels:
        (tmp_path / f"w{n}").mkdir()
    roots = ",".join(f"{{noise: {n}, root: '{tmp_path / f'w{n}'}'}}" for n in levels)
    outcome = run_report(load_grid("world-power", [f"world.roots=[{roots}]"]), "p", dry_run=True)
    assert len(outcome.runs) == 5 * 3  # noise levels x seeds
    for run in outcome.runs:
        assert run.config.text_encoder["name"] == "hf"
        # the world of the run's noise level, not the config's data/world
        assert run.config.text_encoder["path"] == f"{run.config.data.root}/models/world-mbert"
        assert run.config.train.early_stop and run.config.data.target_langs == ["de"]


def test_a_grid_override_naming_the_builtin_encoder_replaces_the_section() -> None:
    """The from-scratch encoder stays an option: no key of the hf section is carried over."""
    config = resolve_config("baseline-world", ["text_encoder={name: builtin, dim: 64}"], "t")
    assert config.text_encoder == {"name": "builtin", "dim": 64}


def test_power_targets_by_hand(bench) -> None:
    rows = [  # out of order on purpose: levels are sorted by noise
        {"noise": 0.5, "native": [96.0, 102.0, 108.0], "fused": [1.0, 1.0, 1.0]},
        {"noise": 0.0, "native": [120.0, 121.0, 122.0], "fused": [1.0, 1.0, 1.0]},
        {"noise": 0.2, "native": [110.0, 110.0, 113.0], "fused": [1.0, 1.0, 1.0]},
    ]
    found = bench.power_targets(rows)
    assert [level["noise"] for level in found["levels"]] == [0.0, 0.2, 0.5]
    assert [level["std"] for level in found["levels"]] == pytest.approx([1.0, math.sqrt(3), 6.0])
    assert found["complete"] and found["monotone"]
    assert found["drop"] == pytest.approx(19.0)
    pooled = math.sqrt((1 + 3 + 36) / 3)
    assert found["pooled_std"] == pytest.approx(pooled)
    assert found["separation_ok"] and found["separation"] == pytest.approx(19.0 / pooled)
    assert not found["spread_ok"]  # 6 / 102 = 5.9 % at 0.5 (0.8 % and 1.6 % below it)
    rows[0]["native"] = [100.0, 102.0, 104.0]  # 2 / 102 = 1.96 %: every level within 2 %
    assert bench.power_targets(rows)["spread_ok"] is True
    rows[2]["native"] = [130.0, 130.0]  # a rise, and a level with 2 seeds: partial
    found = bench.power_targets(rows)
    assert not found["monotone"] and not found["complete"]
