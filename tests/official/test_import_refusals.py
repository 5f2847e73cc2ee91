"""Bad input to `ccrkit import nrccr`: refused with one line naming what was found; a pickled
object that would run code is refused before anything of it runs."""

from __future__ import annotations

import argparse
import datetime

import pytest
import torch
from nrccr_reference import build_reference, opt_for, save_official

from ccrkit.cli.main import main

pytest.importorskip("transformers")


class WritesAFile:
    """Unpickling this calls open(marker, "w"): code execution, the attack a checkpoint can carry."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def refused(tmp_path, checkpoint, text_model, capsys) -> str:
    argv = ["import", "nrccr", str(checkpoint), "--text-model", str(text_model),
            "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ccrkit import: error:"), captured.err
    assert not (tmp_path / "run").exists()
    return lines[0]


@pytest.fixture
def valid_checkpoint(tmp_path, text_model):
    return save_official(
        build_reference("image", text_model), opt_for("image"), tmp_path / "ok.pth.tar"
    )


def test_a_pickle_that_would_run_code_is_refused_and_never_runs(tmp_path, text_model, capsys):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth.tar"
    torch.save(
        {"epoch": 1, "model": [], "best_rsum": 0, "opt": WritesAFile(str(marker)), "Eiters": 0},
        path,
    )
    line = refused(tmp_path, path, text_model, capsys)
    assert "io.open" in line and "refused without unpickling" in line
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the payload is real: an unrestricted load runs it
    assert marker.exists()


def test_a_pickle_with_another_object_names_it(tmp_path, text_model, capsys):
    path = tmp_path / "date.pth.tar"
    torch.save({"model": [], "opt": argparse.Namespace(), "when": datetime.date(2022, 10, 1)}, path)
    assert "datetime.date" in refused(tmp_path, path, text_model, capsys)


def test_a_truncated_file(tmp_path, text_model, valid_checkpoint, capsys):
    data = valid_checkpoint.read_bytes()
    cut = tmp_path / "cut.pth.tar"
    cut.write_bytes(data[: len(data) // 2])
    assert "not a torch.save archive" in refused(tmp_path, cut, text_model, capsys)


def test_wrong_keys_and_another_architecture(tmp_path, text_model, capsys):
    path = tmp_path / "other.pth"
    torch.save({"state_dict": {"fc.weight": torch.zeros(2, 2)}}, path)
    assert "found a dict with keys state_dict" in refused(tmp_path, path, text_model, capsys)
    # a CCRk (X-VLM) checkpoint: a flat 'model' state dict and a 'config'
    torch.save(
        {"model": {"vision_encoder.patch_embed.proj.weight": torch.zeros(2)}, "config": {}}, path
    )
    assert "found a dict with keys model, config" in refused(tmp_path, path, text_model, capsys)
    # the official layout, but the video model's tensors under an image model's opt
    video = build_reference("video", text_model)
    save_official(video, opt_for("image"), path)
    assert "no tensor vid_encoding.proj.weight" in refused(tmp_path, path, text_model, capsys)
    # an unknown tensor in an NRCCR checkpoint
    image = build_reference("image", text_model)
    state = image.official_state()
    state[3]["mapping.fc2.weight"] = torch.zeros(2, 2)
    torch.save(
        {"epoch": 1, "model": state, "best_rsum": 0, "opt": opt_for("image"), "Eiters": 0}, path
    )
    assert "text_mapping.mapping.fc2.weight" in refused(tmp_path, path, text_model, capsys)


def test_a_text_model_of_another_size_says_which(tmp_path, valid_checkpoint, text_model, capsys):
    from transformers import BertConfig, BertTokenizer

    other = tmp_path / "other-bert"
    tokenizer = BertTokenizer.from_pretrained(text_model)
    tokenizer.save_pretrained(other)
    config = BertConfig.from_pretrained(text_model)
    config.vocab_size += 7
    config.save_pretrained(other)
    line = refused(tmp_path, valid_checkpoint, other, capsys)
    assert f"vocab_size = {config.vocab_size}" in line and f"has {config.vocab_size - 7}" in line
    config.vocab_size -= 7
    config.hidden_size = 48
    config.save_pretrained(other)
    assert "hidden_size = 48" in refused(tmp_path, valid_checkpoint, other, capsys)


def test_missing_files_and_an_existing_run(tmp_path, text_model, valid_checkpoint, capsys):
    assert "no such checkpoint file" in refused(
        tmp_path, tmp_path / "nope.pth.tar", text_model, capsys
    )
    assert "no such folder" in refused(tmp_path, valid_checkpoint, tmp_path / "no-bert", capsys)
    out = tmp_path / "taken"
    out.mkdir()
    (out / "x").write_text("x")
    argv = [
        "import",
        "nrccr",
        str(valid_checkpoint),
        "--text-model",
        str(text_model),
        "--out",
        str(out),
    ]
    assert main(argv) == 2 and "--force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0 and not (out / "x").exists()
