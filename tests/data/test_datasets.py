"""Datasets and collation: views joined by caption id, visual input by store, masks on padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ccrkit.data import (
    DataError,
    EvalDataset,
    TrainCollate,
    TrainDataset,
    VisualLoader,
    collate_visual,
    load_data_spec,
)
from ccrkit.data.batch import TokenBatch


def fake_tokenize(texts: list[str]) -> TokenBatch:
    """Characters as token ids: enough to see which text went where."""
    length = max(len(t) for t in texts)
    ids = torch.zeros(len(texts), length, dtype=torch.long)
    for row, text in enumerate(texts):
        ids[row, : len(text)] = torch.tensor([ord(c) for c in text])
    return TokenBatch(ids, (ids != 0).long())


def test_train_examples_join_views_by_caption_id(visual_search):
    spec = load_data_spec("multi30k-task1-fr")
    data = TrainDataset(spec, visual_search, target_langs=["fr"], roles=("mt", "bt"))
    assert len(data) == 7 and data.item_ids[1] == "1034985636"
    example = data[1]
    assert (example.item_id, example.item_index, example.visual.shape) == ("1034985636", 1, (2048,))
    assert example.views == {
        "source": "A man wearing black is playing an electric guitar at a concert.",
        "mt:fr": " Un homme vêtu en noir joue une guitare électrique lors d'un concert.",
        "bt:fr": "A man wearing black is playing an electric guitar at a concert.",
    }
    features = np.load(
        visual_search / "multi30k/FeatureData/resnet_152/train-resnet_152-avgpool.npy"
    )
    np.testing.assert_array_equal(example.visual, features[1])
    assert data.texts("mt", "fr")[1] == example.views["mt:fr"] and len(data.texts("source")) == 7


def test_multi_caption_items_share_an_index(visual_search):
    data = TrainDataset("multi30k-task2-de", visual_search, roles=("mt",))
    assert len(data) == 35 and list(data.item_index[:6]) == [0, 0, 0, 0, 0, 1]
    assert data[5].views["mt:de"] == data.texts("mt", "de")[5]


def test_missing_role_file_says_how_to_disable_it(fresh_visual_search):
    (fresh_visual_search / "vatex/TextData/vatextrain_google_enc2zh2enc.caption.txt").unlink()
    with pytest.raises(DataError) as info:
        TrainDataset("vatex-zh", fresh_visual_search, roles=("mt", "bt"))
    assert info.value.path.endswith("vatextrain_google_enc2zh2enc.caption.txt")
    assert "drop 'bt' from the roles" in str(info.value)
    assert len(TrainDataset("vatex-zh", fresh_visual_search, roles=("mt",))) == 20


def test_missing_join_names_the_expected_id(fresh_visual_search):
    mt = fresh_visual_search / "vatex/TextData/vatextrain_google_enc2zh.caption.txt"
    mt.write_text(
        "".join(mt.read_text(encoding="utf-8").splitlines(keepends=True)[1:]), encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"no caption 'Ptf_2VRj-V0_000122_000132#enc2zh#0'"):
        TrainDataset("vatex-zh", fresh_visual_search, roles=("mt",))


def test_unknown_language_and_split_without_sources(visual_search):
    with pytest.raises(DataError, match="has no target language de; it has zh"):
        TrainDataset("vatex-zh", visual_search, target_langs=["de"])
    with pytest.raises(DataError, match="no English source captions for split 'val'"):
        TrainDataset("vatex-zh", visual_search, split="val")


def test_collate_pads_frames_with_a_mask(visual_search):
    data = TrainDataset("vatex-zh", visual_search, roles=("mt",))
    first, last = sorted((data[0], data[len(data) - 1]), key=lambda e: len(e.visual))
    short, long = len(first.visual), len(last.visual)
    assert short < long and first.visual.shape[1] == 1024
    batch = TrainCollate(fake_tokenize)([first, last])
    assert batch.visual.kind == "frames" and batch.visual.values.shape == (2, long, 1024)
    assert batch.visual.mask.tolist() == [[True] * short + [False] * (long - short), [True] * long]
    assert torch.count_nonzero(batch.visual.values[0, short:]) == 0
    masked_mean = (batch.visual.values * batch.visual.mask[..., None]).sum(
        1
    ) / batch.visual.mask.sum(1, keepdim=True)
    np.testing.assert_allclose(masked_mean[0].numpy(), first.visual.mean(0), rtol=1e-6)
    assert batch.item_ids == [first.item_id, last.item_id]
    assert batch.item_index.tolist() == [first.item_index, last.item_index]
    assert set(batch.views) == {"source", "mt:zh"} and batch.views["mt:zh"].texts == [
        first.views["mt:zh"],
        last.views["mt:zh"],
    ]
    assert chr(batch.views["source"].input_ids[0, 0]) == first.views["source"][0]


def test_max_frames_keeps_the_first_frames(visual_search):
    loader = VisualLoader.from_spec(
        load_data_spec("vatex-zh"), visual_search, "train", max_frames=1
    )
    full = VisualLoader.from_spec(load_data_spec("vatex-zh"), visual_search, "train")
    item = "yBsSqb4orpw_000000_000010"
    np.testing.assert_array_equal(loader.load(item), full.load(item)[:1])


def test_raw_images_become_pixels(visual_search):
    data = TrainDataset("mscoco-ja", visual_search, roles=("mt",), image_size=16)
    example = data[0]
    assert example.visual.shape == (3, 16, 16) and example.visual.dtype == np.float32
    assert example.visual.min() >= 0.0 and example.visual.max() <= 1.0
    batch = TrainCollate(fake_tokenize)([data[0], data[5]])
    assert (
        batch.visual.kind == "pixels"
        and batch.visual.values.shape == (2, 3, 16, 16)
        and batch.visual.mask.shape == (2, 1)
    )


def test_eval_dataset_queries_and_gallery(visual_search):
    ev = EvalDataset("multi30k-task2-de", visual_search, split="val", lang="de")
    ids = (visual_search / "multi30k/FeatureData/val_id.txt").read_text().split()
    assert (
        ev.item_ids == ids
        and len(ev) == 20
        and ev.query_item.tolist() == [i for i in range(4) for _ in range(5)]
    )
    assert ev.query_texts_to_en is not None and len(ev.query_texts_to_en) == 20
    assert ev.source_texts is None and ev.source_item is None
    batches = list(ev.visual_batches(3))
    assert [b.values.shape for b in batches] == [(3, 1, 2048), (1, 1, 2048)] and batches[
        0
    ].kind == "feature"
    features = np.load(visual_search / "multi30k/FeatureData/resnet_152/val-resnet_152-avgpool.npy")
    np.testing.assert_array_equal(batches[1].values[0, 0].numpy(), features[3])


def test_eval_dataset_video_gallery_in_first_appearance_order(visual_search):
    ev = EvalDataset("msrvttcn-zh", visual_search, split="test")
    assert ev.item_ids == ["video7010", "video7011"] and ev.query_item.tolist() == [0, 0, 1, 1]
    assert [b.kind for b in ev.visual_batches(8)] == ["frames"]


def test_eval_dataset_with_english_sources(world_root):
    ev = EvalDataset("world-image", world_root, split="test", lang="ja")
    assert (
        ev.source_texts is not None
        and len(ev.source_texts) == 10
        and ev.source_item.tolist()[:6] == [0] * 5 + [1]
    )
    assert (
        ev.query_texts[0] == "caption 0 of img00005 (ja)"
        and ev.query_texts_to_en[0] == "caption 0 of img00005 (ja2enc)"
    )


def test_world_video_raw_frames_as_pixels(world_root):
    data = TrainDataset(
        "world-video",
        world_root,
        target_langs=["de", "zh"],
        roles=("mt",),
        feature="raw",
        image_size=None,
    )
    assert set(data[0].views) == {"source", "mt:de", "mt:zh"}
    assert data[0].visual.shape == (2, 3, 8, 8)
    batch = collate_visual([data[0].visual, data[10].visual])  # vid00000: 2 frames, vid00001: 3
    assert (
        batch.kind == "pixels"
        and batch.values.shape == (2, 3, 3, 8, 8)
        and batch.mask.tolist() == [[True, True, False], [True, True, True]]
    )


def test_world_image_item_without_features(world_root):
    loader = VisualLoader.from_spec(load_data_spec("world-image"), world_root, "train")
    assert loader.problem("img00000") is None
    with pytest.raises(DataError, match=r"item 'img00099' has no row in .*train_id.txt"):
        loader.load("img00099")


def test_loader_pickles_without_its_memmap(visual_search):
    import pickle

    loader = VisualLoader.from_spec(load_data_spec("multi30k-task1-de"), visual_search, "val")
    loader.load("1018148011")
    clone = pickle.loads(pickle.dumps(loader))
    assert clone._npy is None
    np.testing.assert_array_equal(clone.load("1018148011"), loader.load("1018148011"))
