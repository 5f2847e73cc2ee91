"""The configs part of a results page's provenance hash: keyed by the name a config is read by,
so re-filing a config within its group (issue 21: configs/runs/<dataset>/) leaves pages current,
while a changed byte or a renamed config does not."""

from __future__ import annotations

from ccrkit import config
from ccrkit.report.provenance import CONFIGS, code_state


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
