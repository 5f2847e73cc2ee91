"""Text encoders: the built-in Transformer and a tiny Hugging Face BERT through one protocol."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tinymodels import tiny_bert

from ccrkit.config import ConfigError
from ccrkit.models import BuildContext, build_text_encoder
from ccrkit.models.text_hf import lower_strip_accents, trainable_names

CORPUS = [
    "a small red circle",
    "a big blue square",
    "ein kleiner roter Kreis",
    "ein großes Quadrat",
]
SHORT, LONG = "a red circle", "there is a big blue square next to a small red circle over there"


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    words = " ".join([*CORPUS, LONG]).lower().replace("ß", "ss").split()
    return tiny_bert(tmp_path_factory.mktemp("bert"), words)


def builtin(**params: object):
    section = {
        "name": "builtin",
        "dim": 16,
        "layers": 1,
        "heads": 2,
        "ffn_dim": 32,
        "vocab_size": 60,
        **params,
    }
    return build_text_encoder(section, BuildContext(corpus=lambda: iter([*CORPUS, LONG])))


def assert_batch_independent(encoder) -> None:
    encoder.eval()
    with torch.no_grad():
        alone = encoder(encoder.tokenize([SHORT])).pooled[0]
        together = encoder(encoder.tokenize([SHORT, LONG])).pooled[0]
    assert torch.allclose(alone, together, atol=1e-5)


def test_builtin_pooling_ignores_padding() -> None:
    assert_batch_independent(builtin())


def test_hf_pooling_ignores_padding(bert_dir: Path) -> None:
    assert_batch_independent(
        build_text_encoder({"name": "hf", "path": str(bert_dir)}, BuildContext())
    )


def test_builtin_tokenizer_lowercases_strips_accents_and_truncates() -> None:
    encoder = builtin(max_length=5)
    tokens = encoder.tokenize(["Ein GROẞES Quadrat", LONG])
    assert tokens.input_ids.shape == (2, 5)  # [CLS] + 3 + [SEP], truncated to 5
    assert tokens.attention_mask[1].tolist() == [1, 1, 1, 1, 1]
    same = encoder.tokenize(["ein großes quadrat"]).input_ids
    assert torch.equal(encoder.tokenize(["Ein Großes Quadrat"]).input_ids, same)


def test_builtin_tokenizer_training_is_reproducible() -> None:
    from ccrkit.models.text_builtin import BuiltinTextConfig, train_tokenizer

    corpus = [
        f"{a} {b} {c}" for a in CORPUS for b in CORPUS for c in ("Kreis", "Kreise", "Kreisel")
    ]
    trained = {
        train_tokenizer(iter(corpus), BuiltinTextConfig(vocab_size=90)).to_str() for _ in range(4)
    }
    assert len(trained) == 1


def test_builtin_rebuilds_from_its_saved_tokenizer(tmp_path: Path) -> None:
    encoder = builtin()
    encoder.save_assets(tmp_path)
    again = build_text_encoder(
        {"name": "builtin", "dim": 16, "layers": 1, "heads": 2, "ffn_dim": 32, "vocab_size": 60},
        BuildContext(assets_dir=tmp_path),
    )
    assert torch.equal(again.tokenize(CORPUS).input_ids, encoder.tokenize(CORPUS).input_ids)


def test_builtin_without_corpus_or_assets_says_what_it_needs() -> None:
    with pytest.raises(ValueError, match=r"needs training captions to learn its tokenizer"):
        build_text_encoder({"name": "builtin"}, BuildContext())


def test_builtin_config_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"text_encoder.width"):
        builtin(width=3)
    with pytest.raises(ConfigError, match=r"divisible by heads"):
        builtin(dim=10, heads=4)


def test_hf_freezes_all_but_listed_layers(bert_dir: Path) -> None:
    encoder = build_text_encoder(
        {"name": "hf", "path": str(bert_dir), "finetune": [1]}, BuildContext()
    )
    trainable = {n for n, p in encoder.named_parameters() if p.requires_grad}
    assert trainable and all(".layer.1." in n for n in trainable)
    assert encoder.dim == 32


def test_finetune_by_name_never_trains_the_pooler() -> None:
    names = [
        "embeddings.word.weight",
        "encoder.layer.0.w",
        "encoder.layer.10.w",
        "pooler.dense.weight",
    ]
    assert trainable_names(names, None) == set(names[:3])
    assert trainable_names(names, [10, "embeddings"]) == {names[0], names[2]}
    with pytest.raises(
        ValueError, match=r"entry 3 matches no parameter \(the model has layers 0..10\)"
    ):
        trainable_names(names, [3])


def test_hf_lowercase_strip_accents_option(bert_dir: Path) -> None:
    assert lower_strip_accents("Größe CAFÉ naïve") == "große cafe naive"
    section = {"name": "hf", "path": str(bert_dir), "lowercase_strip_accents": True}
    encoder = build_text_encoder(section, BuildContext())
    tokens = encoder.tokenize(["Ein Kleiner Roter Kreis"])
    assert tokens.texts == ["Ein Kleiner Roter Kreis"]
    assert 1 not in tokens.input_ids.tolist()[0]  # no [UNK]: every lower-cased word is known


def test_hf_rebuilds_from_saved_assets_without_the_original(bert_dir: Path, tmp_path: Path) -> None:
    encoder = build_text_encoder({"name": "hf", "path": str(bert_dir)}, BuildContext())
    encoder.save_assets(tmp_path)
    again = build_text_encoder({"name": "hf", "path": "gone"}, BuildContext(assets_dir=tmp_path))
    assert torch.equal(again.tokenize(CORPUS).input_ids, encoder.tokenize(CORPUS).input_ids)
    assert again.state_dict().keys() == encoder.state_dict().keys()


def test_hf_missing_model_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot load a Hugging Face model"):
        build_text_encoder({"name": "hf", "path": str(tmp_path / "absent")}, BuildContext())
