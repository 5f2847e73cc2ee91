"""Whole runs on the fake world: learning, kill-and-resume, run folder, bad resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from trainfakes import FakeCollate, FakeEvalDataset, FakeTrainDataset, FakeWorld, tiny_config

from ccrkit.config import build
from ccrkit.methods import load_method
from ccrkit.methods.checkpoint import read_checkpoint
from ccrkit.train import RunConfig, run_training

WORLD = FakeWorld()


def config(**train: object) -> RunConfig:
    return build(RunConfig, tiny_config(**train), "test")


def run(run_dir: Path, cfg: RunConfig, **kwargs: object):
    return run_training(
        cfg, run_dir, FakeTrainDataset(WORLD), FakeCollate, FakeEvalDataset(WORLD),
        FakeEvalDataset(WORLD), **kwargs,
    )  # fmt: skip


class Killed(Exception):
    pass


def kill_after(epoch: int):
    def callback(trainer, summary) -> None:
        if summary["epoch"] == epoch:
            raise Killed

    return callback


def test_baseline_learns_far_above_chance(tmp_path: Path) -> None:
    outcome = run(tmp_path, config(epochs=8))
    native, english = outcome.test["de native"], outcome.test["en source"]
    # 48 items: chance is R@1 2.1 %, R@10 20.8 %
    assert native["t2v_r10"] >= 60.0 and english["t2v_r1"] >= 30.0, outcome.test
    assert set(outcome.test) == {"de native", "de fused w=0.2", "de fused w=0.5", "en source"}
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["status"] == "ok" and record["metrics"]["de native"] == native
    assert record["best_epoch"] == outcome.progress.best_epoch and len(record["history"]) == 8
    assert "| de fused w=0.5 |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "ranks" / "de_native.t2v_ranks.npy").is_file()
    # the best checkpoint rebuilds the method without the data: same test scores
    method, meta = load_method(tmp_path)
    assert meta["epoch"] == outcome.progress.best_epoch
    from ccrkit.evaluate.protocol import evaluate_method

    again = evaluate_method(method, FakeEvalDataset(WORLD), "de", [0.2, 0.5])
    assert again == outcome.test


def test_kill_and_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    cfg = config(epochs=4, schedule="plateau", grad_clip=1.0, early_stop=5)
    whole = run(tmp_path / "whole", cfg)
    with pytest.raises(Killed):
        run(tmp_path / "cut", cfg, callbacks=[kill_after(2)])
    assert read_checkpoint(tmp_path / "cut/checkpoints/last.json")[0]["epoch"] == 2
    partial = tmp_path / "cut/checkpoints/.last-00ff00ff00ff00ff.safetensors.x1y2z3.tmp"
    partial.write_bytes(b"\0" * 65536)  # what a kill during a checkpoint write leaves
    resumed = run(tmp_path / "cut", cfg, resume=True)
    assert not list((tmp_path / "cut/checkpoints").glob(".*.tmp"))
    assert resumed.test == whole.test
    assert [h["loss"] for h in resumed.progress.history] == [
        h["loss"] for h in whole.progress.history
    ]
    _, final_whole = read_checkpoint(tmp_path / "whole/checkpoints/last.json")
    _, final_cut = read_checkpoint(tmp_path / "cut/checkpoints/last.json")
    assert final_whole.keys() == final_cut.keys()
    for key in final_whole:
        if key.startswith("model."):
            assert torch.equal(final_whole[key], final_cut[key]), key


def test_resuming_a_finished_run_says_so_and_leaves_its_record_alone(tmp_path: Path) -> None:
    cfg = config(epochs=1)
    run(tmp_path, cfg)
    before = (tmp_path / "run.json").read_bytes()
    with pytest.raises(
        ValueError, match=r"already finished after epoch 1 .*nothing to resume.*train.epochs=2"
    ):
        run(tmp_path, cfg, resume=True)
    assert (tmp_path / "run.json").read_bytes() == before  # still status ok, with its metrics
    assert json.loads(before)["status"] == "ok" and json.loads(before)["metrics"]


def test_a_finished_run_trains_longer_when_resumed_with_more_epochs(tmp_path: Path) -> None:
    first = run(tmp_path, config(epochs=2))
    _, weights_before = read_checkpoint(tmp_path / "checkpoints/last.json")
    longer = run(tmp_path, config(epochs=4), resume=True)
    assert (
        longer.progress.epoch == 4 and longer.progress.finish_reason == "reached train.epochs = 4"
    )
    assert longer.progress.history[:2] == first.progress.history
    # the cosine schedule had decayed to 0; stretched to 4 epochs it learns again
    assert first.progress.history[-1]["lr"] == 0.0
    assert all(h["lr"] > 0 for h in longer.progress.history[2:3])
    _, weights_after = read_checkpoint(tmp_path / "checkpoints/last.json")
    assert any(not torch.equal(weights_before[k], weights_after[k]) for k in weights_before)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["status"] == "ok" and record["resumed"] and record["epochs"] == 4
    assert len(record["history"]) == 4 and record["metrics"] == longer.test


def test_an_early_stopped_run_continues_only_with_a_looser_early_stop(tmp_path: Path) -> None:
    run(tmp_path, config(epochs=40, early_stop=1, schedule="plateau"))
    stopped = json.loads((tmp_path / "run.json").read_text())
    assert stopped["finish_reason"].startswith("early stop") and stopped["epochs"] < 40
    with pytest.raises(ValueError, match=r"a larger train.early_stop than 1 \(or 0\)"):
        run(tmp_path, config(epochs=40, early_stop=1, schedule="plateau"), resume=True)
    more = run(tmp_path, config(epochs=stopped["epochs"] + 1, early_stop=0, schedule="plateau"),
               resume=True)  # fmt: skip
    assert more.progress.epoch == stopped["epochs"] + 1


def test_an_existing_run_is_never_overwritten(tmp_path: Path) -> None:
    cfg = config(epochs=1)
    run(tmp_path, cfg)
    with pytest.raises(FileExistsError, match=r"already holds a run .*--resume.*--force"):
        run(tmp_path, cfg)
    run(tmp_path, cfg, force=True)
    with pytest.raises(FileNotFoundError, match=r"no checkpoint to resume"):
        run(tmp_path / "new", cfg, resume=True)


def test_resume_with_another_config_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(Killed):
        run(tmp_path, config(epochs=2), callbacks=[kill_after(1)])
    with pytest.raises(
        ValueError, match=r"trained with train.lr = 0.003 but the resumed config has 0.01"
    ):
        run(tmp_path, config(epochs=2, lr=0.01), resume=True)


def test_training_resolves_the_plugin_sections_once(tmp_path: Path, monkeypatch) -> None:
    """`resolve_run` turns the raw sections into typed configs; training takes that object and
    never resolves (or re-reads) the raw sections again."""
    import ccrkit.methods.registry as registry
    import ccrkit.train.config as train_config

    resolved = train_config.resolve_run(config(epochs=1))
    assert train_config.resolve_run(resolved) is resolved
    assert (
        resolved.model.method.config.temperature
        == resolved.model.sections()["method"]["temperature"]
    )
    calls = []
    monkeypatch.setattr(train_config, "resolve_model", lambda *a: calls.append(a))
    monkeypatch.setattr(registry, "resolve_model", lambda *a: calls.append(a))
    outcome = run(tmp_path, resolved)
    assert outcome.progress.epoch == 1 and calls == []
