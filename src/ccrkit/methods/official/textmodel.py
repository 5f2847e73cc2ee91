"""The `--text-model` folder of an import: a Hugging Face config and tokenizer, no weights needed.

Released checkpoints carry the text encoder's weights but not its config or tokenizer (NRCCR
hard-codes `bert-base-multilingual-cased`, CCRk reads `data/xlm-roberta-large`). The user points at
that model's folder; its config must describe the checkpoint's tensors — the vocabulary rows and
hidden width of the word embeddings, the layer count, the feed-forward width, the position table —
and a mismatch names the field, since loading would otherwise fail deep inside transformers or,
worse, pair the weights with the wrong tokenizer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from ccrkit.models.base import import_transformers
from ccrkit.models.text_hf import ASSETS_NAME

LAYER = re.compile(r"^encoder\.layer\.(\d+)\.")


def load_text_model(path: str | Path) -> tuple[Any, Any]:
    """(config, tokenizer) of a local Hugging Face model folder."""
    hf: Any = import_transformers("ccrkit import")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"--text-model {folder}: no such folder (the text model's config and tokenizer)"
        )
    try:
        return hf.AutoConfig.from_pretrained(folder), hf.AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as err:
        raise ValueError(
            f"--text-model {folder}: cannot load a Hugging Face config and tokenizer from it: "
            f"{str(err).splitlines()[0]}"
        ) from None


def bert_shape(state: dict[str, torch.Tensor]) -> dict[str, int]:
    """The config numbers a BERT-layout state (keys `embeddings.*`, `encoder.layer.<i>.*`) fixes."""
    words = state["embeddings.word_embeddings.weight"]
    layers = {int(m.group(1)) for key in state if (m := LAYER.match(key))}
    shape = {"vocab_size": int(words.shape[0]), "hidden_size": int(words.shape[1]),
             "num_hidden_layers": len(layers)}  # fmt: skip
    if "encoder.layer.0.intermediate.dense.weight" in state:
        shape["intermediate_size"] = int(
            state["encoder.layer.0.intermediate.dense.weight"].shape[0]
        )
    for name, key in (("max_position_embeddings", "embeddings.position_embeddings.weight"),
                      ("type_vocab_size", "embeddings.token_type_embeddings.weight")):  # fmt: skip
        if key in state:
            shape[name] = int(state[key].shape[0])
    return shape


def check_config(config: Any, tokenizer: Any, shape: dict[str, int], folder: str | Path) -> None:
    """Raise naming the first config field that disagrees with the checkpoint's tensors."""
    for field, expected in shape.items():
        found = getattr(config, field, None)
        if found != expected:
            raise ValueError(
                f"--text-model {folder}: its config has {field} = {found} but the checkpoint's "
                f"text encoder has {expected} (another model than the one it was trained from)"
            )
    if len(tokenizer) > shape["vocab_size"]:
        raise ValueError(
            f"--text-model {folder}: its tokenizer has {len(tokenizer)} tokens but the checkpoint's "
            f"vocabulary has {shape['vocab_size']} rows (another tokenizer)"
        )


def save_text_assets(config: Any, tokenizer: Any, assets: Path) -> Path:
    """Write the config and tokenizer where ccrkit's `hf` text encoder rebuilds from a run."""
    target = Path(assets) / ASSETS_NAME
    config.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target
