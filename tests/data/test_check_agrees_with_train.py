"""`data check` and `train` judge data with the same validation: what one rejects, the other does,
with the same first problem, before any training (issue 23, items 3, 5 and 9)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ccrkit.cli.main import main

SPEC = "multi30k-task2-de"
TEXT = "multi30k/TextData"
FEATURES = "multi30k/FeatureData/resnet_152"


def empty_source(root: Path) -> None:
    (root / TEXT / "Flickr30ktrain_enc.caption.txt").write_bytes(b"")


def one_caption_short(root: Path) -> None:
    path = root / TEXT / "Flickr30ktrain_enc.caption.txt"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[1:]), encoding="utf-8")  # item 1000092795 keeps 4 of 5


def utf16_captions(root: Path) -> None:
    path = root / TEXT / "multi30kval_de.caption.txt"
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))


def random_npy(root: Path) -> None:
    path = root / FEATURES / "train-resnet_152-avgpool.npy"
    path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))


def nan_features(root: Path) -> None:
    path = root / FEATURES / "val-resnet_152-avgpool.npy"
    array = np.load(path)
    array[2, 7], array[3, 0] = np.nan, np.inf
    np.save(path, array)


def wider_val_and_test(root: Path) -> None:
    for name in ("val-resnet_152-avgpool.npy", "test_2016_flickr-resnet152-avgpool.npy"):
        path = root / FEATURES / name
        np.save(path, np.ones((len(np.load(path)), 256), dtype=np.float32))


CASES = {
    "empty-source": (empty_source, "Flickr30ktrain_enc.caption.txt: no captions in the file"),
    "one-caption-short": (one_caption_short, "item '1000092795' has 4 caption(s); the spec expects 5"),
    "utf16": (utf16_captions, "multi30kval_de.caption.txt: the file is UTF-16 LE (with a byte-order mark), not UTF-8"),
    "random-npy": (random_npy, "train-resnet_152-avgpool.npy: not a valid .npy file"),
    "nan": (nan_features, "2 feature row(s) hold NaN or inf, the first of item"),
    "widths": (wider_val_and_test, "the splits' features have different dimensions (train 2048-d, val 256-d, test 256-d)"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_data_check_and_train_refuse_the_same_data(fresh_visual_search, tmp_path, capsys, case):
    breakage, expected = CASES[case]
    breakage(fresh_visual_search)
    root = str(fresh_visual_search)
    assert main(["data", "check", "--data", SPEC, "--root", root, "--max-problems", "0"]) == 2
    listed = [line.strip() for line in capsys.readouterr().out.splitlines() if ": " in line]
    found = [line for line in listed if expected in line]
    assert found, listed
    overrides = [f"data.name={SPEC}", f"data.root={root}", "train.epochs=1", "train.progress=false"]
    out = tmp_path / "run"
    argv = ["train", "--config", "baseline-world", "--out", str(out), *overrides]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and expected in err, err
    assert not (out / "checkpoints").exists()  # refused before anything was trained


def test_a_wrongly_encoded_file_is_one_problem(fresh_visual_search, capsys):
    utf16_captions(fresh_visual_search)
    main(["data", "check", "--data", SPEC, "--root", str(fresh_visual_search)])
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if "multi30kval_de.caption.txt" in line]
    assert len(problems) == 1 and "\x00" not in out and "\n1 problem(s):" in out


def test_lines_in_another_8_bit_encoding_are_one_problem(fresh_visual_search, capsys):
    path = fresh_visual_search / TEXT / "multi30kval_de.caption.txt"
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))  # ä, ö, ü, ß as 1 byte
    main(["data", "check", "--data", SPEC, "--root", str(fresh_visual_search)])
    out = capsys.readouterr().out
    assert out.count("not UTF-8 text") == 1 and "lines are not UTF-8)" in out
