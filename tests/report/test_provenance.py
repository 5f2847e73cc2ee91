"""The configs part of a results page's provenance hash: keyed by the name a config is read by,
so re-filing a config within its group (issue 21: configs/runs/<dataset>/) leaves pages current,
while a changed byte or a renamed config does not; and limited to the configs the page's grid
reads, so that editing another method's config leaves the page current."""

from __future__ import annotations

import json

from ccrkit import config
from ccrkit.report.grid import load_grid
from ccrkit.report.index import staleness
from ccrkit.report.plan import grid_config_files
from ccrkit.report.provenance import CONFIGS, code_state, config_names


def test_the_configs_hash_follows_names_and_contents_not_folders(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(config, "config_dir", lambda: tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "spec.yaml").write_text("a: 1\n")
    (tmp_path / "run.yaml").write_text("seed: 1\n")
    flat = code_state()["parts"][CONFIGS]

    (tmp_path / "runs" / "world").mkdir(parents=True)
    (tmp_path / "run.yaml").rename(tmp_path / "runs" / "world" / "run.yaml")
    assert code_state()["parts"][CONFIGS] == flat

    (tmp_path / "runs" / "world" / "run.yaml").write_text("seed: 2\n")
    assert code_state()["parts"][CONFIGS] != flat
    (tmp_path / "runs" / "world" / "run.yaml").write_text("seed: 1\n")
    (tmp_path / "data" / "spec.yaml").rename(tmp_path / "data" / "other.yaml")
    assert code_state()["parts"][CONFIGS] != flat


def test_a_grid_depends_on_its_own_run_world_and_data_configs_with_their_bases() -> None:
    names = config_names(grid_config_files(load_grid("world-power"), "world-power"))
    assert names == [
        "baseline-world.yaml", "data/world-image.yaml", "report/world-power.yaml",
        "world-default.yaml",
    ]  # fmt: skip
    core = config_names(grid_config_files(load_grid("nrccr-core"), "nrccr-core"))
    assert "nrccr-world.yaml" in core and "nrf-world.yaml" not in core


def test_a_page_is_stale_only_when_a_config_it_read_changes(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(config, "config_dir", lambda: tmp_path)
    (tmp_path / "mine.yaml").write_text("seed: 1\n")
    (tmp_path / "other.yaml").write_text("seed: 1\n")
    out = tmp_path / "results"
    out.mkdir()
    page = {"grid": "g", "code": code_state(["mine.yaml"])}
    assert page["code"]["configs"] == ["mine.yaml"]
    (out / "g.md").write_text("# g\n")
    (out / "g.json").write_text(json.dumps(page))

    (tmp_path / "other.yaml").write_text("seed: 2\n")
    assert [stale for _, stale in staleness(out)] == [False]
    (tmp_path / "mine.yaml").write_text("seed: 2\n")
    assert staleness(out) == [
        (f"{out}/g.md: stale: made at commit {page['code']['commit'] or 'unknown'}; changed "
         "since: configs — regenerate with `ccrkit report --grid g`", True)
    ]  # fmt: skip
