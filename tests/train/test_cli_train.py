"""`ccrkit train` and `ccrkit evaluate --checkpoint` end to end, with the data layer replaced by
the fake world (the real data layer is wired by the integration)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from trainfakes import FakeCollate, FakeEvalDataset, FakeTrainDataset, FakeWorld, tiny_config

import ccrkit.data
from ccrkit.cli.main import main


@pytest.fixture
def fake_data_layer(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    world, calls = FakeWorld(), []

    def train_dataset(spec, root, split, target_langs, roles, feature):
        calls.append(("train", spec, root, split, tuple(target_langs), tuple(roles), feature))
        return FakeTrainDataset(world, tuple(roles))

    def eval_dataset(spec, root, split, lang, feature):
        calls.append(("eval", spec, root, split, lang, feature))
        return FakeEvalDataset(world)

    for name, value in {
        "load_data_spec": lambda name: f"spec:{name}", "TrainDataset": train_dataset,
        "TrainCollate": FakeCollate, "EvalDataset": eval_dataset,
        "check_files": lambda *args: None,  # the fake world has no files to check
    }.items():  # fmt: skip
        monkeypatch.setattr(ccrkit.data, name, value, raising=False)
    return calls


def test_train_then_evaluate_the_checkpoint(tmp_path: Path, fake_data_layer, capsys) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(
        yaml.safe_dump({**tiny_config(epochs=3), "data": {"name": "fake", "root": "r"}})
    )
    run_dir = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(run_dir), "train.lr=0.004"]) == 0
    shown = capsys.readouterr().out
    assert "reached train.epochs = 3" in shown and "| de fused w=0.5 |" in shown
    assert fake_data_layer[0] == ("train", "spec:fake", "r", "train", ("de",), ("mt",), None)
    assert [c[3] for c in fake_data_layer[1:]] == ["val", "test"]
    trained = json.loads((run_dir / "run.json").read_text())
    assert trained["config"]["train"]["lr"] == 0.004

    record = (run_dir / "run.json").read_bytes()
    assert main(["train", "--resume", str(run_dir)]) == 2
    assert "already finished after epoch 3" in capsys.readouterr().err
    assert (run_dir / "run.json").read_bytes() == record  # not rewritten as failed

    out = tmp_path / "eval"
    assert (
        main(
            ["evaluate", "--checkpoint", str(run_dir), "--out", str(out), "--fusion-weights", "0.5"]
        )
        == 0
    )
    evaluated = json.loads((out / "run.json").read_text())["metrics"]
    assert list(evaluated) == ["de native", "de fused w=0.5", "en source"]
    for label, metrics in evaluated.items():
        assert metrics == pytest.approx(trained["metrics"][label])
    assert (out / "results.md").is_file() and (out / "ranks" / "de_native.t2v_ranks.npy").is_file()


def test_train_needs_a_config_and_lists_the_known_ones(capsys) -> None:
    assert main(["train"]) == 2
    assert "give --config NAME (known: baseline-world" in capsys.readouterr().err


def test_resume_takes_no_other_config(tmp_path: Path, capsys) -> None:
    assert main(["train", "--resume", str(tmp_path), "--config", "baseline-world"]) == 2
    assert "--resume RUN_DIR uses that run's config" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "no checkpoint here" in capsys.readouterr().err


def test_the_default_config_is_valid() -> None:
    from ccrkit.config import load_config
    from ccrkit.train import RunConfig

    config = load_config(RunConfig, "baseline-world")
    assert (config.data.name, config.data.root, config.data.lang) == (
        "world-image",
        "data/world",
        "de",
    )
    assert config.method["name"] == "baseline" and config.text_encoder == {
        "name": "hf", "path": "data/world/models/world-mbert", "finetune": [1, 2, 3], "max_length": 48
    }  # fmt: skip


def test_a_checkpoint_never_imports_the_plugins_it_names(
    tmp_path: Path, fake_data_layer, capsys, monkeypatch
) -> None:
    """Even a record with a valid checksum (rewritten by whoever can write the run folder) gets
    no module imported: plug-ins come from the user's command line only."""
    import sys

    from ccrkit.methods.checkpoint import checkpoint_path, read_checkpoint, write_checkpoint

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**tiny_config(epochs=1), "data": {"name": "f", "root": "r"}}))
    run_dir = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(run_dir)]) == 0
    plugin = tmp_path / "plugins" / "ccrkit_test_planted.py"
    plugin.parent.mkdir()
    plugin.write_text(f"open({str(tmp_path / 'imported')!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(plugin.parent))
    monkeypatch.delitem(sys.modules, "ccrkit_test_planted", raising=False)
    for which in ("best", "last"):
        record, tensors = read_checkpoint(checkpoint_path(run_dir, which))
        record["config"]["plugins"] = ["ccrkit_test_planted"]
        write_checkpoint(run_dir, which, record, tensors)
    capsys.readouterr()

    assert main(["evaluate", "--checkpoint", str(run_dir), "--out", str(tmp_path / "e1")]) == 2
    assert "checkpoints never import code they name" in capsys.readouterr().err
    assert main(["train", "--resume", str(run_dir), "train.epochs=2"]) == 2
    assert "--plugin ccrkit_test_planted" in capsys.readouterr().err
    assert not (tmp_path / "imported").exists()
    # the user's own choice on the command line imports it
    argv = ["--plugin", "ccrkit_test_planted", "evaluate", "--checkpoint", str(run_dir),
            "--out", str(tmp_path / "e2")]  # fmt: skip
    assert main(argv) == 0 and (tmp_path / "imported").exists()
    monkeypatch.delitem(sys.modules, "ccrkit_test_planted")
