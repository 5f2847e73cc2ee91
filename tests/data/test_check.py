"""`data check`: passes on every miniature layout, and reports every problem of a broken one."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ccrkit.cli.main import main
from ccrkit.data import check_data, load_data_spec

REAL = [
    "multi30k-task1-de",
    "multi30k-task1-fr",
    "multi30k-task1-cs",
    "multi30k-task2-de",
    "mscoco-ja",
    "mscoco-zh",
    "vatex-zh",
    "msrvttcn-zh",
]


@pytest.mark.parametrize("name", REAL)
def test_check_passes_on_each_miniature(visual_search, name, capsys):
    assert main(["data", "check", "--data", name, "--root", str(visual_search)]) == 0
    out = capsys.readouterr().out
    assert "no problems found" in out and "split" in out and "train" in out


def test_summary_table_counts(visual_search):
    report = check_data(load_data_spec("multi30k-task2-de"), visual_search)
    train, test = report.splits["train"], report.splits["test"]
    assert (train.items, train.captions, train.languages, train.feature_dim) == (
        7,
        {"source": 35, "mt": 35, "bt": 35},
        ["en", "de"],
        2048,
    )
    assert (test.items, test.captions, test.visual) == (
        5,
        {"human": 25, "human_to_en": 25},
        "npy resnet_152",
    )
    assert "source 35, mt 35, bt 35" in report.table()


def test_raw_images_checked_with_decoding(visual_search):
    assert check_data(
        load_data_spec("multi30k-task1-de"), visual_search, feature="raw", decode_images=True
    ).ok


@pytest.mark.parametrize(
    ("name", "feature"),
    [("world-image", None), ("world-image", "raw"), ("world-video", None), ("world-video", "raw")],
)
def test_check_passes_on_the_world_contract_layout(world_root, name, feature):
    report = check_data(load_data_spec(name), world_root, feature=feature)
    assert report.ok, report.problems
    assert report.splits["train"].languages == ["en", "de", "fr", "cs", "zh", "ja"]


def test_all_problems_reported_at_once(fresh_visual_search, capsys):
    root = fresh_visual_search
    text = root / "multi30k" / "TextData"
    enc = text / "multi30ktrain_enc.caption.txt"
    lines = enc.read_bytes().split(b"\n")
    lines[1] = lines[1].split(b" ")[0]  # a caption line without text
    lines[2] = lines[2].replace(b"player", b"pla\xe9yer")  # non-UTF-8 bytes
    enc.write_bytes(b"\n".join(lines))
    mt = text / "multi30ktrain_google_enc2de.caption.txt"
    mt.write_text(mt.read_text().replace("1000092795.jpg#enc2de#0", "1000092795.jpg#enc2fr#0"))
    (text / "multi30ktrain_google_enc2de2enc.caption.txt").unlink()
    ids = root / "multi30k" / "FeatureData" / "val_id.txt"
    ids.write_text(
        "\n".join(ids.read_text().split()[1:]) + "\n"
    )  # ids no longer match the feature rows
    assert (
        main(
            [
                "data",
                "check",
                "--data",
                "multi30k-task1-de",
                "--root",
                str(root),
                "--max-problems",
                "0",
            ]
        )
        == 2
    )
    out = capsys.readouterr().out
    assert f"{enc}:2: caption line without text" in out
    assert f"{enc}:3: not UTF-8 text" in out
    assert (
        f"{mt}:1: caption id '1000092795.jpg#enc2fr#0' has tag 'enc2fr'; a 'mt:de' file expects tag 'enc2de'"
        in out
    )
    assert (
        "multi30ktrain_google_enc2de2enc.caption.txt: caption file for 'bt:de' (train) not found"
        in out
    )
    assert (
        "multi30kval_de_task1.caption.txt:1: caption '1018148011.jpg#de#0' names item '1018148011', which is not in"
        in out
    )
    assert "3 ids in" in out and "rows must match ids one to one" in out
    assert "problem(s):" in out


def test_caption_whose_item_has_no_features(fresh_visual_search):
    root = fresh_visual_search / "vatex"
    with (root / "TextData" / "vatexval_zh.caption.txt").open("a", encoding="utf-8") as handle:
        handle.write("ghost_000000_000010#zh#0 一个幽灵\n")
    report = check_data(load_data_spec("vatex-zh"), fresh_visual_search, ["val"])
    messages = [str(p) for p in report.problems]
    assert any(
        "video2frames.txt: video 'ghost_000000_000010' has no frames listed" in m for m in messages
    )
    assert any(
        "vatexval_zh.caption.txt:21: caption 'ghost_000000_000010#zh#0' has no 'human_to_en:zh' view"
        in m
        for m in messages
    )
    assert any(
        "item 'ghost_000000_000010' has 1 caption(s); the spec expects 10 per item" in m
        for m in messages
    )


def test_frame_id_missing_from_bigfile(fresh_visual_search):
    v2f = fresh_visual_search / "vatex" / "FeatureData" / "i3d_kinetics" / "video2frames.txt"
    v2f.write_text(
        v2f.read_text().replace('"Ptf_2VRj-V0_000122_000132_1"', '"Ptf_2VRj-V0_000122_000132_99"')
    )
    report = check_data(load_data_spec("vatex-zh"), fresh_visual_search, ["train"])
    assert [p.path for p in report.problems] == [str(v2f)]
    assert (
        "frame 'Ptf_2VRj-V0_000122_000132_99' of video 'Ptf_2VRj-V0_000122_000132' is not in the BigFile"
        in str(report.problems[0])
    )


def test_feature_dimension_differs_from_config(fresh_visual_search):
    npy = (
        fresh_visual_search
        / "multi30k"
        / "FeatureData"
        / "resnet_152"
        / "val-resnet_152-avgpool.npy"
    )
    np.save(npy, np.zeros((4, 512), dtype=np.float32))
    report = check_data(load_data_spec("multi30k-task1-de"), fresh_visual_search, ["val"])
    assert [str(p) for p in report.problems] == [
        f"{npy}: feature dimension 512 differs from the expected 2048 for 'resnet_152'"
    ]
    assert not check_data(
        load_data_spec("multi30k-task1-de"), fresh_visual_search, ["train"], feature_dim=64
    ).ok


def test_bigfile_size_and_id_count_problems_are_reported(fresh_visual_search):
    folder = fresh_visual_search / "msrvttcn" / "FeatureData" / "resnext101-resnet152"
    (folder / "shape.txt").write_text("3 4096\n")
    report = check_data(load_data_spec("msrvttcn-zh"), fresh_visual_search, ["train", "val"])
    assert len(report.problems) == 2 and all(
        "disagrees with shape.txt 3 x 4096" in str(p) for p in report.problems
    )


def test_truncated_image_found_when_decoding(fresh_visual_search):
    image = fresh_visual_search / "mscoco" / "all_pics" / "COCO_val2014_000000000042.jpg"
    image.write_bytes(image.read_bytes()[:200])
    spec = load_data_spec("mscoco-ja")
    assert check_data(spec, fresh_visual_search, ["val"]).ok  # header only
    problems = check_data(spec, fresh_visual_search, ["val"], decode_images=True).problems
    assert (
        len(problems) == 1 and problems[0].path == str(image) and "truncated" in problems[0].message
    )


def test_missing_root_and_unknown_split(tmp_path, capsys):
    spec = load_data_spec("vatex-zh")
    assert "data root folder not found" in str(check_data(spec, tmp_path / "nope").problems[0])
    assert (
        main(["data", "check", "--data", "vatex-zh", "--root", str(tmp_path), "--splits", "dev"])
        == 2
    )
    assert "has no split 'dev'" in capsys.readouterr().out


def test_problem_list_is_capped_in_the_cli(fresh_visual_search, capsys):
    shutil.rmtree(fresh_visual_search / "multi30k" / "flickr30k-images")
    assert (
        main(
            [
                "data",
                "check",
                "--data",
                "multi30k-task1-de",
                "--root",
                str(fresh_visual_search),
                "--feature",
                "raw",
                "--max-problems",
                "1",
            ]
        )
        == 2
    )
    out = capsys.readouterr().out
    assert "3 problem(s):" in out and "... and 2 more (--max-problems 0 lists all)" in out
