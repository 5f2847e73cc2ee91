"""Feature files of any name, as the official image code finds them (issue 20, item 5): the data
specs take the feature name as a parameter of the paths, with no special case in code."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ccrkit.cli.main import main
from ccrkit.data import check_data, load_data_spec

FIXTURES = Path(__file__).parent / "fixtures" / "VisualSearch"
FEATURES = {"resnet_152": 2048, "clip_vit_b32": 512}


def official_image_features(
    collection: Path, feature: str, dim: int, splits: dict[str, tuple[str, str]]
) -> None:
    """What trainer_img.py / tester_img.py read for `--visual_feature feature`, written under the
    names spelled out here (not through a spec): {split: (npy name, id list)}."""
    rng = np.random.default_rng(len(feature))
    for npy, ids in splits.values():
        rows = (collection / "FeatureData" / ids).read_text().split()
        path = collection / "FeatureData" / feature / npy.format(f=feature)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, rng.standard_normal((len(rows), dim)).astype(np.float32))


@pytest.fixture
def two_feature_layout(tmp_path) -> Path:
    root = tmp_path / "VisualSearch"
    shutil.copytree(FIXTURES / "multi30k", root / "multi30k")
    multi30k = root / "multi30k"
    for feature, dim in FEATURES.items():
        ids = multi30k / "FeatureData" / feature / "test_id_2016.txt"
        if not ids.exists():  # the tester reads the test ids from the feature's own folder
            ids.parent.mkdir(parents=True)
            shutil.copy(multi30k / "FeatureData/resnet_152/test_id_2016.txt", ids)
        official_image_features(multi30k, feature, dim, {
            "train": ("train-{f}-avgpool.npy", "train_id.txt"),
            "val": ("val-{f}-avgpool.npy", "val_id.txt"),
            "test": ("test_2016_flickr-resnet152-avgpool.npy", f"{feature}/test_id_2016.txt"),
        })  # fmt: skip
    return root


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_data_check_finds_each_feature_named_the_official_way(two_feature_layout, feature, capsys):
    argv = ["data", "check", "--data", "multi30k-task1-de", "--root", str(two_feature_layout),
            "--feature", feature, "--feature-dim", str(FEATURES[feature])]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "no problems found" in out and f"npy {feature}" in out


def test_training_and_test_sets_read_the_named_feature(two_feature_layout):
    from ccrkit.data import EvalDataset, TrainDataset

    train = TrainDataset("multi30k-task1-de", two_feature_layout, feature="clip_vit_b32")
    assert np.asarray(train[0].visual).shape[-1] == 512
    test = EvalDataset("multi30k-task1-de", two_feature_layout, "test", "de", "clip_vit_b32")
    ids = (
        (two_feature_layout / "multi30k/FeatureData/clip_vit_b32/test_id_2016.txt")
        .read_text()
        .split()
    )
    assert test.item_ids == ids


def test_a_half_unpacked_archive_fails_naming_the_missing_file(two_feature_layout, capsys):
    missing = two_feature_layout / "multi30k/FeatureData/clip_vit_b32/val-clip_vit_b32-avgpool.npy"
    missing.unlink()
    (two_feature_layout / "multi30k/FeatureData/clip_vit_b32/test_id_2016.txt").unlink()
    argv = ["data", "check", "--data", "multi30k-task1-de", "--root", str(two_feature_layout),
            "--feature", "clip_vit_b32"]  # fmt: skip
    assert main(argv) == 2
    out = capsys.readouterr().out
    assert str(missing) in out and "clip_vit_b32/test_id_2016.txt" in out
    report = check_data(
        load_data_spec("multi30k-task1-de"), two_feature_layout, feature="resnet_152"
    )
    assert report.ok  # the other feature is untouched
