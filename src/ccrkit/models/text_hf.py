"""Any Hugging Face encoder (mBERT, XLM-R, MiniLM, LaBSE, ...) as a ccrkit text encoder.

Loaded with `AutoModel`/`AutoTokenizer` from a local folder or a hub id. Which parameters train is
config: `finetune` lists layer indices (NRCCR fine-tunes layers 3–11 for images, 5–11 for video,
methods.md §1.1 item 2) and/or parameter-name substrings; everything else — word/position
embeddings, the pooler, unlisted layers — is frozen. Pooling is the attention-masked mean of the
last hidden state, or the first token's state (`pooling: first`, CCRk's). A run saves the model's
config and tokenizer under `assets/text/`, so a checkpoint rebuilds without the original weights.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import MISSING

from ccrkit.data.batch import TokenBatch
from ccrkit.models.base import (
    TEXT_ENCODERS,
    BuildContext,
    EncoderOutput,
    TextEncoder,
    import_transformers,
    masked_mean,
)
from ccrkit.quiet import quiet_transformers

ASSETS_NAME = "text"
POOLINGS = ("mean", "first")
LAYER_INDEX = re.compile(r"(?:^|\.)layers?\.(\d+)\.")


@dataclass
class HFTextConfig:
    path: str = MISSING  # local folder or hub id
    finetune: list[Any] | None = None  # layer indices and/or name substrings; None: all but pooler
    lowercase_strip_accents: bool = False  # NRCCR: mBERT-cased read with do_lower_case=True
    max_length: int = 64
    pooling: str = "mean"  # mean (over real tokens) | first (the first token's state: CCRk)

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")


def lower_strip_accents(text: str) -> str:
    """Lower-case and drop combining accents (NFD, remove marks): "Größe" -> "große", "Café" -> "cafe"."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def trainable_names(names: list[str], finetune: list[Any] | None) -> set[str]:
    """Names of the parameters that train: those matching `finetune` (never the unused pooler).

    An int matches the parameters of that layer (`...layer.<i>.` / `...layers.<i>.`); a string
    matches any parameter whose name contains it. `None` means every parameter but the pooler.
    """
    usable = [n for n in names if "pooler" not in n]
    if finetune is None:
        return set(usable)
    chosen: set[str] = set()
    for entry in finetune:
        hits = {n for n in usable if _matches(n, entry)}
        if not hits:
            layers = sorted({int(m.group(1)) for n in names if (m := LAYER_INDEX.search(n))})
            span = f"layers {layers[0]}..{layers[-1]}" if layers else "no numbered layers"
            raise ValueError(
                f"text_encoder.finetune entry {entry!r} matches no parameter (the model has {span})"
            )
        chosen |= hits
    return chosen


def _matches(name: str, entry: Any) -> bool:
    if isinstance(entry, int) and not isinstance(entry, bool):
        found = LAYER_INDEX.search(name)
        return found is not None and int(found.group(1)) == entry
    return str(entry) in name


@TEXT_ENCODERS.register("hf")
class HFTextEncoder(TextEncoder):
    """AutoModel's last hidden state, masked-mean pooled; frozen parameters per `finetune`."""

    config_class = HFTextConfig

    def __init__(self, config: HFTextConfig, model: Any, tokenizer: Any) -> None:
        super().__init__()
        self.config, self.model, self.tokenizer = config, model, tokenizer
        self.dim = int(model.config.hidden_size)
        names = [name for name, _ in model.named_parameters()]
        keep = trainable_names(names, config.finetune)
        for name, param in model.named_parameters():
            param.requires_grad_(name in keep)

    @classmethod
    def from_config(cls, config: HFTextConfig, context: BuildContext) -> HFTextEncoder:
        hf: Any = import_transformers("text encoder 'hf'")
        AutoConfig, AutoModel, AutoTokenizer = hf.AutoConfig, hf.AutoModel, hf.AutoTokenizer
        saved = context.assets(ASSETS_NAME)
        source = str(saved) if saved is not None else config.path
        try:
            # quiet: a masked LM's head (unused, as mBERT's is) and the pooler (never used: the
            # pooling is ours) fill transformers' load report on every run
            with quiet_transformers(warnings=True):
                tokenizer = AutoTokenizer.from_pretrained(source)
                if saved is not None:  # the weights come from the checkpoint
                    model = AutoModel.from_config(AutoConfig.from_pretrained(source))
                else:
                    model = AutoModel.from_pretrained(source)
        except (OSError, ValueError) as err:
            raise ValueError(
                f"text_encoder.path '{source}': cannot load a Hugging Face model and tokenizer "
                f"from it (a local folder or hub id is expected): {str(err).splitlines()[0]}"
            ) from None
        return cls(config, model, tokenizer)

    def tokenize(self, texts: list[str]) -> TokenBatch:
        texts = list(texts)
        inputs = (
            [lower_strip_accents(t) for t in texts]
            if self.config.lowercase_strip_accents
            else texts
        )
        encoded = self.tokenizer(
            inputs, padding=True, truncation=True, max_length=self.config.max_length,
            return_tensors="pt",
        )  # fmt: skip
        return TokenBatch(encoded["input_ids"], encoded["attention_mask"], texts)

    def forward(self, tokens: TokenBatch) -> EncoderOutput:
        mask = tokens.attention_mask
        states = self.model(input_ids=tokens.input_ids, attention_mask=mask).last_hidden_state
        pooled = states[:, 0] if self.config.pooling == "first" else masked_mean(states, mask)
        return EncoderOutput(states, mask.bool(), pooled)

    def save_assets(self, directory: Path) -> None:
        target = Path(directory) / ASSETS_NAME
        self.model.config.save_pretrained(target)
        self.tokenizer.save_pretrained(target)
