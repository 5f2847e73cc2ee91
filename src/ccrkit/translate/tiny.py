"""Tiny random MT models saved like real checkpoints, for smoke tests, demos and benchmarks
without network access.

Each builder trains a sentencepiece vocabulary on the sentences given, builds a random network of
the real architecture (one layer, width 16) and writes it with `save_pretrained`, so
`ccrkit translate --backend hf --model DIR` loads it through exactly the path a downloaded
`opus-mt-*`, M2M100 or NLLB-200 checkpoint takes. The translations are gibberish.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import torch

TINY_LAYERS = dict(d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                   decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
                   max_position_embeddings=64)  # fmt: skip


def train_sentencepiece(
    path: Path, sentences: Sequence[str], model_type: str = "unigram", vocab_size: int = 120
) -> list[str]:
    """Train a sentencepiece model on `sentences` into `path`; returns its pieces in id order."""
    # optional dependency: sentencepiece (the `translate` extra)
    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=buffer, vocab_size=vocab_size,
        model_type=model_type, character_coverage=1.0, hard_vocab_limit=False,
        bos_id=-1, eos_id=-1, pad_id=-1, unk_id=0, minloglevel=2,
    )  # fmt: skip
    path.write_bytes(buffer.getvalue())
    processor = spm.SentencePieceProcessor(model_file=str(path))
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def build_tiny_marian(
    folder: str | Path, sentences: Sequence[str], src: str = "en", tgt: str = "de", seed: int = 0
) -> Path:
    """A MarianMT model as `opus-mt` checkpoints ship it: source/target.spm, vocab.json, and the
    language pair in tokenizer_config.json."""
    # transformers on first use: importing it costs seconds that other commands need not pay
    from transformers import MarianConfig, MarianMTModel

    folder = _fresh(folder)
    pieces = train_sentencepiece(folder / "source.spm", sentences)
    shutil.copy(folder / "source.spm", folder / "target.spm")
    vocab = ["</s>", "<unk>", *(p for p in pieces if p != "<unk>"), "<pad>"]
    (folder / "vocab.json").write_text(json.dumps({p: i for i, p in enumerate(vocab)}))
    names = {"source_lang": src, "target_lang": tgt, "tokenizer_class": "MarianTokenizer"}
    (folder / "tokenizer_config.json").write_text(json.dumps(names))
    pad = len(vocab) - 1
    config = MarianConfig(vocab_size=len(vocab), pad_token_id=pad, eos_token_id=0,
                          decoder_start_token_id=pad, **TINY_LAYERS)  # fmt: skip
    _seeded(seed)
    MarianMTModel(config).save_pretrained(folder)
    return folder


def build_tiny_m2m100(folder: str | Path, sentences: Sequence[str], seed: int = 0) -> Path:
    """An M2M100 model (100 languages, `__de__`-style codes) with its sentencepiece tokenizer."""
    # transformers on first use: importing it costs seconds that other commands need not pay
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    folder = _fresh(folder)
    pieces = train_sentencepiece(folder / "sentencepiece.bpe.model", sentences)
    vocab = ["<s>", "<pad>", "</s>", "<unk>", *(p for p in pieces if p != "<unk>")]
    (folder / "vocab.json").write_text(json.dumps({p: i for i, p in enumerate(vocab)}))
    tokenizer = M2M100Tokenizer(str(folder / "vocab.json"), str(folder / "sentencepiece.bpe.model"))
    tokenizer.save_pretrained(folder)
    size = len(tokenizer.encoder) + len(tokenizer.lang_code_to_id) + tokenizer.num_madeup_words
    config = M2M100Config(vocab_size=size, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                          decoder_start_token_id=2, **TINY_LAYERS)  # fmt: skip
    _seeded(seed)
    M2M100ForConditionalGeneration(config).save_pretrained(folder)
    return folder


def build_tiny_nllb(folder: str | Path, sentences: Sequence[str], seed: int = 0) -> Path:
    """An NLLB-200 model: M2M100 weights and an NLLB tokenizer (a tokenizers BPE over the pieces
    of a character-level sentencepiece vocabulary; the 202 FLORES codes are special tokens)."""
    # transformers on first use: importing it costs seconds that other commands need not pay
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    folder = _fresh(folder)
    pieces = train_sentencepiece(folder / "pieces.model", sentences, model_type="char")
    (folder / "pieces.model").unlink()
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece in pieces:
        vocab.setdefault(piece, len(vocab))
    tokenizer = NllbTokenizer(vocab=vocab, merges=[])
    tokenizer.save_pretrained(folder)
    config = M2M100Config(vocab_size=len(tokenizer), pad_token_id=1, bos_token_id=0,
                          eos_token_id=2, decoder_start_token_id=2, **TINY_LAYERS)  # fmt: skip
    _seeded(seed)
    M2M100ForConditionalGeneration(config).save_pretrained(folder)
    return folder


def _fresh(folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _seeded(seed: int) -> None:
    torch.manual_seed(seed)
