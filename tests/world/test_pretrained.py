"""The world's pretrained models: world-mbert in Hugging Face format through the `hf` encoder,
world-clip as a registered visual model, corpora apart from the benchmark, the shared cache and
the regeneration of half-written model folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ccrkit.config import load_config
from ccrkit.world.config import WorldConfig, config_hash, pretrained_hash
from ccrkit.world.pretrained import MARKER, build_once, is_complete
from ccrkit.world.world import generate_world, sample_items

transformers = pytest.importorskip("transformers")
LANGS = ("en", "de", "fr", "cs", "zh", "ja")


def tiny(*overrides: str) -> WorldConfig:
    return load_config(WorldConfig, "world-tiny", list(overrides))


def test_world_mbert_loads_with_the_auto_classes(tiny_world: Path) -> None:
    folder = tiny_world / "models" / "world-mbert"
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= {
        p.name for p in folder.iterdir()
    }
    model = transformers.AutoModel.from_pretrained(folder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    assert model.config.model_type == "bert" and model.config.num_hidden_layers == 4
    pieces = tokenizer.tokenize("一个红色的圆。")
    assert pieces[:3] == ["一", "个", "红"]  # CJK characters one by one, as mBERT splits them
    encoded = tokenizer(["Ein roter Kreis.", "赤い丸がある。"], padding=True, return_tensors="pt")
    assert encoded["input_ids"][:, 0].tolist() == [tokenizer.cls_token_id] * 2
    with torch.no_grad():
        states = model(**encoded).last_hidden_state
    assert states.shape[-1] == model.config.hidden_size == 32


def test_world_json_reports_the_text_model(tiny_world: Path) -> None:
    info = json.loads((tiny_world / "world.json").read_text())
    text = info["text_model"]
    assert text["path"] == "models/world-mbert" and (tiny_world / text["path"]).is_dir()
    assert set(text["mlm_accuracy"]) == set(LANGS)
    assert set(text["crosslingual_retrieval"]) == set(LANGS) - {"en"}
    assert all(0 <= v <= 100 for v in [*text["mlm_accuracy"].values(),
                                        *text["crosslingual_retrieval"].values()])  # fmt: skip
    assert {"world_clip", "world_mbert"} <= set(info["timings_s"])
    assert info["backbone"]["path"] == "models/world-clip"
    assert info["backbone"]["pretraining"]["images"] == 400


def test_world_mbert_fine_tunes_through_the_hf_encoder(tiny_world: Path, tmp_path: Path) -> None:
    """baseline-world as configured (world-mbert, layers 1-3 fine-tuned): one short epoch moves
    the listed layers and leaves the embeddings and layer 0 as pretrained (the pooler, which
    the masked LM never had and nothing uses, is drawn afresh by every load)."""
    from ccrkit.methods import load_method
    from ccrkit.train.config import RunConfig
    from ccrkit.train.run import train_from_config

    overrides = [f"data.root={tiny_world}", "train.epochs=1", "train.batch_size=64",
                 "train.progress=false", "train.tensorboard=false", "eval.batch_size=128"]  # fmt: skip
    config = load_config(RunConfig, "baseline-world", overrides)
    assert config.text_encoder["path"] == f"{tiny_world}/models/world-mbert"
    train_from_config(config, tmp_path / "run")
    pretrained = transformers.AutoModel.from_pretrained(tiny_world / "models" / "world-mbert")
    method, _ = load_method(tmp_path / "run")
    trained = method.text.model
    before, after = dict(pretrained.named_parameters()), dict(trained.named_parameters())
    moved = {n for n in before if "pooler" not in n and not torch.equal(before[n], after[n])}
    assert moved and all(".layer.1." in n or ".layer.2." in n or ".layer.3." in n for n in moved)
    assert "embeddings.word_embeddings.weight" not in moved


def test_pretraining_corpora_share_no_scene_with_the_benchmark() -> None:
    from ccrkit.world.clip import pretraining_scenes
    from ccrkit.world.mbert import text_scenes

    cfg = tiny()
    benchmark = {s for c in ("worldimage", "worldvideo") for split in sample_items(cfg, c).values()
                 for _, s in split}  # fmt: skip
    clip = pretraining_scenes(cfg)
    assert len(clip) == 400 and not benchmark & set(clip)
    for lang in LANGS:
        text = text_scenes(cfg, lang, 300, "train")
        assert not benchmark & set(text) and not set(clip) & set(text)
    assert not set(text_scenes(cfg, "en", 300, "train")) & set(text_scenes(cfg, "de", 300, "train"))


def test_pretrained_models_are_shared_by_worlds_that_differ_only_in_the_benchmark() -> None:
    base = tiny()
    for other in (tiny("mt.noise=0.5"), tiny("image.train=300"), tiny("languages=[de]")):
        assert config_hash(other) != config_hash(base)
        for model in ("world-clip", "world-mbert"):
            assert pretrained_hash(other, model) == pretrained_hash(base, model)
    longer = tiny("backbone.epochs=3")
    assert pretrained_hash(longer, "world-clip") != pretrained_hash(base, "world-clip")
    assert pretrained_hash(longer, "world-mbert") == pretrained_hash(base, "world-mbert")


def test_a_build_that_dies_leaves_nothing_that_looks_finished(tmp_path: Path) -> None:
    def dies(staging: Path) -> dict:
        (staging / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_once(tmp_path, "world-mbert", "abc", dies)
    assert list(tmp_path.iterdir()) == []
    half = tmp_path / "world-mbert-abc"
    half.mkdir()
    (half / "model.safetensors").write_bytes(b"half")  # e.g. an older ccrkit killed in place
    folder, info, built = build_once(tmp_path, "world-mbert", "abc", lambda s: {"x": 1})
    assert built and folder == half and info["x"] == 1 and is_complete(half, "abc")
    assert not (half / "model.safetensors").exists()
    assert build_once(tmp_path, "world-mbert", "abc", lambda s: 1 / 0)[2] is False


def test_a_half_written_world_mbert_is_regenerated(tiny_world: Path, tmp_path: Path) -> None:
    """A finished world whose models/world-mbert lost its marker and half its weights, with an
    empty pretrained cache: asking for the world again pretrains world-mbert again."""
    root = tmp_path / "world"
    shutil.copytree(tiny_world, root)
    folder = root / "models" / "world-mbert"
    expected = (folder / "model.safetensors").read_bytes()
    (folder / MARKER).unlink()
    (folder / "model.safetensors").write_bytes(expected[: len(expected) // 2])
    result = generate_world(tiny(), root, show_progress=False, pretrained_cache=tmp_path / "cache")
    assert result.status == "cached"
    assert is_complete(folder, pretrained_hash(tiny(), "world-mbert"))
    assert len((folder / "model.safetensors").read_bytes()) > len(expected) // 2
    transformers.AutoModel.from_pretrained(folder)
    assert is_complete(tmp_path / "cache" / f"world-mbert-{pretrained_hash(tiny(), 'world-mbert')}",
                       pretrained_hash(tiny(), "world-mbert"))  # fmt: skip


def test_world_clip_is_a_registered_visual_model(tiny_world: Path) -> None:
    from ccrkit.data.batch import VisualBatch
    from ccrkit.models import VISUAL_ENCODERS, BuildContext, build_visual_encoder
    from ccrkit.models.world_clip import WorldClip, load_pixels

    folder = tiny_world / "worldimage" / "FeatureData" / "worldcnn"
    encoder = build_visual_encoder({"name": "world_cnn", "dir": str(folder)}, BuildContext(0))
    assert type(encoder) is VISUAL_ENCODERS.get("world_cnn")
    assert isinstance(encoder.backbone, WorldClip)
    ids = (folder / "test_id.txt").read_text().split()[:4]
    pixels = load_pixels([tiny_world / "worldimage" / "ImageData" / f"{i}.png" for i in ids])
    with torch.no_grad():
        pooled = encoder(VisualBatch(pixels, torch.ones(4, 1), "pixels")).pooled
    np.testing.assert_allclose(pooled.numpy(), np.load(folder / "test.npy")[:4], atol=1e-4)
