"""The built-in text encoder: a small multilingual Transformer with its own subword tokenizer.

The tokenizer (byte-pair encoding with word-start markers, trained with the `tokenizers` library on
the training captions of every language) is saved with the run as `assets/text/tokenizer.json`, so
a checkpoint is usable without the corpus. This is the CPU default: no pretrained weights to
download.

Why BPE with a word-start marker and not WordPiece: the library's WordPiece trainer numbers its
"##" continuation pieces in hash-map order and breaks ties between equally frequent merges by
those numbers, so two trainings on the same captions can differ (huggingface/tokenizers #1794),
and with them two seeded runs. Without continuation pieces every symbol comes from the sorted
alphabet and training is reproducible (tested).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import (
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
)
from tokenizers.trainers import BpeTrainer
from torch import nn

from ccrkit.data.batch import TokenBatch
from ccrkit.models.base import (
    TEXT_ENCODERS,
    BuildContext,
    EncoderOutput,
    TextEncoder,
    masked_mean,
)
from ccrkit.runs import write_atomic

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
TOKENIZER_FILE = "tokenizer.json"
ASSETS_NAME = "text"


@dataclass
class BuiltinTextConfig:
    dim: int = 256
    layers: int = 2
    heads: int = 4
    ffn_dim: int = 1024
    dropout: float = 0.1
    max_length: int = 64
    vocab_size: int = 8000
    min_frequency: int = 1
    lowercase: bool = True
    strip_accents: bool = True
    # every CJK ideograph its own word, as BERT/mBERT tokenise Chinese: without it a Chinese
    # caption (no spaces) is one "word" and the learned merges do not carry over to new phrasings
    split_cjk: bool = True

    def __post_init__(self) -> None:
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        if self.max_length < 3:
            raise ValueError(f"max_length must be >= 3 (two special tokens), got {self.max_length}")


def train_tokenizer(corpus: Iterable[str], config: BuiltinTextConfig) -> Tokenizer:
    """A BPE tokenizer learned from `corpus`: words split at spaces and punctuation (and around
    every CJK ideograph), marked "▁" at their start, wrapped in [CLS] ... [SEP]; lower-cased and
    accent-stripped by config. The normaliser is saved with the tokenizer, so a saved run keeps
    the one it was trained with."""
    steps: list[normalizers.Normalizer] = [
        normalizers.NFD() if config.strip_accents else normalizers.NFC()
    ]
    if config.split_cjk:  # spaces around each ideograph, then one space between words
        steps[:0] = [
            normalizers.BertNormalizer(
                clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False
            ),
            normalizers.Replace(Regex(r"\s+"), " "),
            normalizers.Strip(),
        ]
    if config.lowercase:
        steps.append(normalizers.Lowercase())
    if config.strip_accents:
        steps.append(normalizers.StripAccents())
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Punctuation(), pre_tokenizers.Metaspace()]
    )
    tokenizer.decoder = decoders.Metaspace()
    trainer = BpeTrainer(
        vocab_size=config.vocab_size, min_frequency=config.min_frequency,
        special_tokens=list(SPECIAL_TOKENS), show_progress=False,
    )  # fmt: skip
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    return tokenizer


def token_batch(tokenizer: Tokenizer, texts: list[str]) -> TokenBatch:
    """Encode a batch with a tokenizer set up to pad to the longest caption and to truncate."""
    encodings = tokenizer.encode_batch(list(texts))
    ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
    mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
    return TokenBatch(ids, mask, list(texts))


@TEXT_ENCODERS.register("builtin")
class BuiltinTextEncoder(TextEncoder):
    """Token + position embeddings → pre-norm Transformer layers → masked mean pooling."""

    config_class = BuiltinTextConfig

    def __init__(self, config: BuiltinTextConfig, tokenizer: Tokenizer) -> None:
        super().__init__()
        self.config, self.tokenizer, self.dim = config, tokenizer, config.dim
        tokenizer.enable_truncation(config.max_length)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
        self.token_embedding = nn.Embedding(tokenizer.get_vocab_size(), config.dim)
        self.position_embedding = nn.Embedding(config.max_length, config.dim)
        layer = nn.TransformerEncoderLayer(
            config.dim, config.heads, config.ffn_dim, config.dropout,
            activation="gelu", batch_first=True, norm_first=True,
        )  # fmt: skip
        # enable_nested_tensor=False: the inference fast path would change padded outputs.
        self.layers = nn.TransformerEncoder(
            layer, config.layers, norm=nn.LayerNorm(config.dim), enable_nested_tensor=False
        )
        self.dropout = nn.Dropout(config.dropout)

    @classmethod
    def from_config(cls, config: BuiltinTextConfig, context: BuildContext) -> BuiltinTextEncoder:
        saved = context.assets(f"{ASSETS_NAME}/{TOKENIZER_FILE}")
        if saved is not None:
            return cls(config, Tokenizer.from_file(str(saved)))
        if context.corpus is None:
            raise ValueError(
                "the built-in text encoder needs training captions to learn its tokenizer, or a "
                f"saved run's assets/{ASSETS_NAME}/{TOKENIZER_FILE}"
            )
        return cls(config, train_tokenizer(context.corpus(), config))

    def tokenize(self, texts: list[str]) -> TokenBatch:
        return token_batch(self.tokenizer, texts)

    def forward(self, tokens: TokenBatch) -> EncoderOutput:
        ids, mask = tokens.input_ids, tokens.attention_mask.bool()
        positions = torch.arange(ids.shape[1], device=ids.device)
        hidden = self.dropout(self.token_embedding(ids) + self.position_embedding(positions))
        states = self.layers(hidden, src_key_padding_mask=~mask)
        return EncoderOutput(states, mask, masked_mean(states, mask))

    def save_assets(self, directory: Path) -> None:
        path = Path(directory) / ASSETS_NAME / TOKENIZER_FILE
        write_atomic(path, self.tokenizer.to_str().encode("utf-8"))
