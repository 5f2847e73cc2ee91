"""The built-in tokenizer splits CJK ideographs into words of their own, as BERT/mBERT do."""

from __future__ import annotations

from ccrkit.models.text_builtin import BuiltinTextConfig, train_tokenizer

CORPUS = [
    "一个黄色十字在一个紫色的三角形的下面。",
    "a red cross",
    "小さな黄色い十字があります。",
] * 3


def test_every_ideograph_is_a_word_and_spaces_collapse() -> None:
    tokenizer = train_tokenizer(CORPUS, BuiltinTextConfig(vocab_size=100))
    # a new phrasing still maps onto the characters seen in training
    assert tokenizer.encode("紫色的十字").tokens[1:-1] == ["▁紫", "▁色", "▁的", "▁十", "▁字"]
    # kana runs stay together (BERT splits only ideographs); spaces never become tokens
    assert "▁い" in tokenizer.encode("黄色い").tokens
    assert tokenizer.encode("a  red   cross ").tokens[1:-1] == ["▁a", "▁red", "▁cross"]


def test_switch_off_keeps_unsegmented_runs() -> None:
    tokenizer = train_tokenizer(CORPUS, BuiltinTextConfig(vocab_size=100, split_cjk=False))
    assert "▁紫" not in tokenizer.encode("一个紫色的十字").tokens
