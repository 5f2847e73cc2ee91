"""Data specs: every shipped spec loads, and the official names live in the specs."""

from __future__ import annotations

import pytest

from ccrkit.config import ConfigError
from ccrkit.data import DataError, available_data_specs, load_data_spec

SHIPPED = [
    "mscoco-ja", "mscoco-zh", "msrvttcn-zh", "multi30k-task1-cs", "multi30k-task1-de",
    "multi30k-task1-fr", "multi30k-task2-de", "vatex-zh", "world-image", "world-video",
]  # fmt: skip


def test_every_shipped_spec_loads():
    assert set(SHIPPED) <= set(available_data_specs())
    for name in SHIPPED:
        spec = load_data_spec(name)
        assert spec.name == name and set(spec.splits) == {"train", "val", "test"}


@pytest.mark.parametrize(
    ("name", "split", "role", "lang", "expected"),
    [
        (
            "multi30k-task1-de",
            "val",
            "human",
            "de",
            "multi30k/TextData/multi30kval_de_task1.caption.txt",
        ),
        ("multi30k-task1-fr", "val", "human", "fr", "multi30k/TextData/multi30kval_fr.caption.txt"),
        (
            "multi30k-task1-de",
            "test",
            "human_to_en",
            "de",
            "multi30k/TextData/multi30ktest_google_de2enc_2016_task1.caption.txt",
        ),
        (
            "multi30k-task2-de",
            "train",
            "bt",
            "de",
            "multi30k/TextData/Flickr30ktrain_google_enc2de2enc.caption.txt",
        ),
        ("vatex-zh", "train", "source", None, "vatex/TextData/vatextrain.caption.txt"),
        (
            "msrvttcn-zh",
            "test",
            "human",
            "zh",
            "msrvtt10kcn/TextData/msrvtt10kcntest_zh.caption.txt",
        ),
        (
            "world-image",
            "val",
            "mt",
            "cs",
            "worldimage/TextData/worldimageval_synthetic_enc2cs.caption.txt",
        ),
        (
            "world-video",
            "test",
            "human_to_en",
            "ja",
            "worldvideo/TextData/worldvideotest_synthetic_ja2enc.caption.txt",
        ),
    ],
)
def test_official_caption_file_names(tmp_path, name, split, role, lang, expected):
    assert load_data_spec(name).caption_path(tmp_path, split, role, lang) == tmp_path / expected


def test_tags_per_role():
    spec = load_data_spec("multi30k-task1-cs")
    assert [spec.tag(role, "cs") for role in ("mt", "bt", "human", "human_to_en")] == [
        "enc2cs",
        "enc2cs2enc",
        "cs",
        "cs2enc",
    ]
    assert spec.tag("source") == "enc"


def test_feature_stores_official_generic_and_raw(tmp_path):
    spec = load_data_spec("multi30k-task1-de")
    name, store = spec.store("test")
    assert name == "resnet_152" and store.path.endswith("test_2016_flickr-resnet152-avgpool.npy")
    name, store = spec.store("val", "clip_vit_b32")
    assert (
        spec.store_path(tmp_path, "val", name, store.path)
        == tmp_path / "multi30k/FeatureData/clip_vit_b32/val-clip_vit_b32-avgpool.npy"
    )
    assert spec.store("train", "raw")[1].format == "images"
    with pytest.raises(DataError, match="no raw visual store"):
        load_data_spec("multi30k-task1-de", ["visual.raw=null"]).store("train", "raw")


def test_spec_from_a_yaml_path_and_schema_errors(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\nmodality: audio\ncollection: c\ntarget_langs: [de]\nsplits: {train: {}}\n"
    )
    with pytest.raises(ConfigError, match="modality 'audio' is not one of image, video"):
        load_data_spec(path)
    path.write_text(
        "name: mine\nmodality: image\ncollection: c\ntarget_langs: [de]\nsplits: {train: {captionz: {}}}\n"
    )
    with pytest.raises(ConfigError, match=r"unknown key 'splits\.train\.captionz'"):
        load_data_spec(path)
    path.write_text(
        "name: mine\nmodality: image\ncollection: c\ntarget_langs: [de]\nsplits:\n  train: {captions: {source: 'x_{langg}.txt'}}\n"
    )
    with pytest.raises(DataError, match=r"bad placeholder in 'x_\{langg\}\.txt'"):
        load_data_spec(path).caption_path(tmp_path, "train", "source")


def test_item_lists_follow_the_feature_as_the_official_tester_reads_them(tmp_path):
    spec = load_data_spec("multi30k-task1-de")
    folder = tmp_path / "multi30k" / "FeatureData"
    assert (
        spec.items_path(tmp_path, "test", "clip_vit_b32")
        == folder / "clip_vit_b32/test_id_2016.txt"
    )
    assert spec.items_path(tmp_path, "test") == folder / "resnet_152/test_id_2016.txt"
    # CLIP runs read raw images; the official scripts keep --visual_feature resnet_152 for the ids
    assert spec.items_path(tmp_path, "test", "raw") == folder / "resnet_152/test_id_2016.txt"
    assert spec.items_path(tmp_path, "val", "clip_vit_b32") == folder / "val_id.txt"
    no_ids = load_data_spec("mscoco-ja", ["visual.ids_feature=null"])
    with pytest.raises(DataError, match=r"set visual\.ids_feature"):
        no_ids.items_path(tmp_path, "test", "raw")
