"""Tiny Hugging Face models built on the fly and saved like a user's downloaded model folder."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_bert(directory: Path, words: Iterable[str], layers: int = 2) -> Path:
    """A 2-layer, 32-wide BERT with a WordPiece vocabulary of `words`, saved to `directory`."""
    from transformers import BertConfig, BertModel, BertTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    vocab = SPECIALS + sorted(set(words))
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    BertTokenizer.from_pretrained(directory, do_lower_case=True).save_pretrained(directory)
    return directory


def tiny_clip_vision(directory: Path) -> Path:
    """A one-layer CLIP vision tower for 32 x 32 images with a 16-d projection."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        image_size=32, patch_size=16, projection_dim=16,
    )  # fmt: skip
    torch.manual_seed(0)
    CLIPVisionModelWithProjection(config).save_pretrained(directory)
    return directory
