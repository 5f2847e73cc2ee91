"""`ccrkit import ccrk`: what ccrkit's `one_to_k` dual encoder has of a CCRk checkpoint.

CCRk (BUAADreamer/CCRK) is an X-VLM/CCLM model (methods.md §4.1): a Swin-B vision tower, XLM-R
large cut to 12 layers inside a BERT-layout encoder whose first `fusion_layer` (6) layers encode
text alone and whose last 6 add cross-attention to the image (the fusion encoder), contrastive
projections `text_proj` / `vision_proj` (1024 -> 256) on the first token, a temperature, an ITM
head and (pre-training) an MLM head. Its released `.th` files are `Pretrain.py`'s save object
(`model`, `optimizer`, `lr_scheduler`, `config`, `epoch`, RNG states including a numpy array,
`global_step`, `scaler`); a fine-tuned `checkpoint_best.pth` holds `model` (and `config`) too.

ccrkit's `one_to_k` is a dual encoder: it takes the text layers (as a Hugging Face BERT whose
positions start at 0, as X-VLM's embeddings number them), the two projections and the
temperature; the text pools the first token's state (`pooling: first`). The Swin-B tower, the
fusion layers, the ITM and MLM heads have no counterpart: without `--partial` the import stops
and names them; with it, the run reads precomputed 1024-d image features (Swin-B's mean-pooled
last stage, X-VLM's image token 0) from a feature folder, which ccrkit cannot extract from this
checkpoint, and the ITM re-ranking of the official evaluation is not reproduced.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ccrkit.methods.checkpoint import CheckpointError, load_module_state
from ccrkit.methods.official.mapping import Mapped, Rule, note_counts, remap
from ccrkit.methods.official.runfolder import assets_dir, staged_run, write_imported_run
from ccrkit.methods.official.textmodel import (
    bert_shape,
    check_config,
    load_text_model,
    save_text_assets,
)
from ccrkit.methods.official.torchfile import OfficialCheckpointError, load_restricted
from ccrkit.models.base import BuildContext, import_transformers

WHAT = "a CCRk checkpoint"
TEXT = "text_encoder."
LAYER = re.compile(r"^text_encoder\.encoder\.layer\.(\d+)\.")
MAX_TOKENS = 40  # configs/Pretrain*.yaml and the fine-tuning configs: max_tokens 40
BERT_FIELDS = ("vocab_size", "hidden_size", "num_attention_heads", "intermediate_size",
               "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob",
               "max_position_embeddings", "type_vocab_size", "initializer_range",
               "layer_norm_eps", "pad_token_id")  # fmt: skip


def allowed_globals() -> list[Any]:
    """What a genuine CCRk save object pickles besides tensors and containers: the numpy RNG
    state (an array: numpy's array reconstructor, ndarray, dtype and the uint32 dtype class its
    key array is built with), under both numpy 1 and numpy 2 module names. Each only rebuilds
    data."""
    core = np._core if hasattr(np, "_core") else np.core  # numpy 2 / numpy 1
    reconstruct = core.multiarray._reconstruct
    return [
        np.ndarray, np.dtype, type(np.dtype(np.uint32)), reconstruct,
        (reconstruct, "numpy.core.multiarray._reconstruct"),
        (reconstruct, "numpy._core.multiarray._reconstruct"),
    ]  # fmt: skip


def text_layers(state: dict[str, torch.Tensor]) -> tuple[int, int]:
    """(text layers = fusion_layer, all layers): the first layer with cross-attention starts the
    fusion encoder."""
    layers = {int(m.group(1)) for key in state if (m := LAYER.match(key))}
    fusion = [
        int(m.group(1)) for key in state if (m := LAYER.match(key)) and ".crossattention." in key
    ]
    if not layers:
        raise OfficialCheckpointError(
            f"not {WHAT}: no text encoder layers (text_encoder.encoder.layer.*)"
        )
    return (min(fusion) if fusion else max(layers) + 1), max(layers) + 1


def rules(fusion: int, total: int) -> tuple[list[Rule], list[Rule]]:
    """(rules that place tensors, rules for the parts ccrkit's one_to_k does not have)."""
    placed = [
        Rule(TEXT + "embeddings.", "text.model.embeddings.", "XLM-R embeddings (positions from 0)"),
        *(Rule(f"{TEXT}encoder.layer.{i}.", f"text.model.encoder.layer.{i}.", "text layer")
          for i in range(fusion)),
        Rule("text_proj.", "text_head.0.", "contrastive text projection (first token)"),
        Rule("vision_proj.", "visual_head.0.", "contrastive image projection"),
        Rule("temp", "tau", "temperature"),
        Rule(TEXT + "embeddings.position_ids", None, "buffer arange(L), rebuilt by transformers"),
    ]  # fmt: skip
    missing = [
        Rule("vision_encoder.", None, "Swin-B vision tower: ccrkit has no Swin encoder"),
        *(Rule(f"{TEXT}encoder.layer.{i}.", None, "fusion encoder layer (cross-attention to the image)")
          for i in range(fusion, total)),
        Rule("text_encoder.cls.", None, "masked-LM head (pre-training only)"),
        Rule("itm_head.", None, "image-text matching head (the official top-k re-ranking)"),
        Rule("bbox_head.", None, "box regression head (pre-training only)"),
        Rule(TEXT + "pooler.", None, "BERT pooler (never used by CCRk's losses)"),
    ]  # fmt: skip
    return placed, missing


def read_ccrk(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(model state with `text_encoder.bert.` folded to `text_encoder.`, the saved config)."""
    path = Path(path)
    saved = load_restricted(path, allowed_globals(), WHAT)
    state = saved.get("model", saved) if isinstance(saved, dict) else None
    if (
        not isinstance(state, dict)
        or not state
        or not all(isinstance(v, torch.Tensor) for v in state.values())
    ):
        found = (
            f"a dict with keys {', '.join(map(str, list(saved)[:6]))}"
            if isinstance(saved, dict)
            else type(saved).__name__
        )
        raise OfficialCheckpointError(
            f"{path}: not {WHAT}: found {found}; expected X-VLM's model state (or a dict holding it under 'model')"
        )
    state = {k.replace("text_encoder.bert.", TEXT, 1): v for k, v in state.items()}
    for needed in (
        "text_proj.weight",
        "vision_proj.weight",
        TEXT + "embeddings.word_embeddings.weight",
    ):
        if needed not in state:
            raise OfficialCheckpointError(
                f"{path}: not {WHAT}: no tensor {needed} (found e.g. {', '.join(sorted(state)[:4])})"
            )
    config = saved.get("config") if isinstance(saved, dict) else None
    return state, config if isinstance(config, dict) else {}


def run_config(text_model: Path, data: str, root: str | None, feature: str | None,
               state: dict[str, torch.Tensor]) -> dict[str, Any]:  # fmt: skip
    """One-to-K over the imported towers, with CCRk's fine-tuning settings (methods.md §4.3)."""
    from ccrkit.data import load_data_spec

    embed = int(state["text_proj.weight"].shape[0])
    lang = load_data_spec(data).target_langs[0]
    return {
        "seed": 42,
        "data": {"name": data, "root": root or str(Path("~/VisualSearch").expanduser()),
                 "lang": lang, "target_langs": [lang], "roles": ["mt"], "feature": feature},
        "text_encoder": {"name": "hf", "path": str(text_model), "finetune": None,
                         "max_length": MAX_TOKENS, "pooling": "first"},
        "visual_encoder": {"name": "feature"},
        "method": {"name": "one_to_k", "embed_dim": embed, "head": "linear",
                   "temperature_range": [0.001, 0.5], "learn_temperature": True,
                   "views": ["source", "mt"]},
        "train": {"optimizer": "adamw", "lr": 3e-5, "betas": [0.9, 0.98], "weight_decay": 0.01,
                  "schedule": "linear", "epochs": 10, "batch_size": 64, "grad_clip": 0.0},
        "eval": {"batch_size": 64, "fusion_weights": []},
    }  # fmt: skip


def import_ccrk(
    checkpoint: str | Path, text_model: str | Path, out: str | Path, *, data: str = "multi30k-task1-de",
    root: str | None = None, feature: str | None = None, partial: bool = False, force: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Write `out` as a `one_to_k` run with CCRk's text tower, projections and temperature."""
    from ccrkit.methods.registry import build_method

    path = Path(checkpoint)
    state, saved_config = read_ccrk(path)
    fusion, total = text_layers(state)
    placed, missing = rules(fusion, total)
    not_imported = {
        key: rule.note for key in state for rule in missing if key.startswith(rule.source)
    }
    if not_imported and not partial:
        parts = sorted(set(not_imported.values()))
        raise OfficialCheckpointError(
            f"{path}: ccrkit's one_to_k cannot hold {len(not_imported)} of its {len(state)} tensors — "
            f"{'; '.join(parts)}; pass --partial to import the text tower, the projections and the "
            "temperature alone (the run then reads 1024-d image features you provide)"
        )
    text_model = Path(text_model).expanduser()
    hf_config, tokenizer = load_text_model(text_model)
    bert = {k[len(TEXT) :]: v for k, v in state.items() if k.startswith(TEXT)}
    shape = bert_shape(bert)
    shape.pop("num_hidden_layers", None)  # XLM-R large has 24 layers; CCRk keeps 12 (6 text)
    check_config(hf_config, tokenizer, shape, text_model)
    text_config = _text_config(hf_config, fusion)
    config = run_config(text_model, data, root, feature, state)
    visual_dim = int(state["vision_proj.weight"].shape[1])
    with staged_run(out, force) as staging:
        save_text_assets(text_config, tokenizer, assets_dir(staging))
        method = build_method(
            config, BuildContext(visual_dim, assets_dir=assets_dir(staging)), f"{path} (imported)"
        )
        kept = {k: v for k, v in state.items() if k not in not_imported}
        mapped = remap(kept, placed, str(path), WHAT)
        _zero_unused_pooler(method, mapped)
        try:
            load_module_state(method, mapped.tensors, str(path), prefix="")
        except CheckpointError as err:
            raise OfficialCheckpointError(f"not {WHAT} ccrkit can map: {err}") from None
        summary = _summary(path, mapped, not_imported, saved_config, data, fusion)
        command = {"checkpoint": str(path), "text_model": str(text_model), "format": "ccrk",
                   "data": data, "feature": feature, "partial": partial}  # fmt: skip
        write_imported_run(
            staging, method.eval(), config, {"visual_dim": visual_dim}, summary, command
        )
    return summary


def _text_config(xlmr: Any, fusion: int) -> Any:
    """A BERT config with XLM-R's numbers and the text layers only: X-VLM's text encoder is a BERT
    (absolute positions from 0, token type 0) holding XLM-R weights."""
    hf: Any = import_transformers("ccrkit import ccrk")
    values = {name: getattr(xlmr, name) for name in BERT_FIELDS if hasattr(xlmr, name)}
    return hf.BertConfig(**values, num_hidden_layers=fusion, position_embedding_type="absolute")


def _zero_unused_pooler(method: torch.nn.Module, mapped: Mapped) -> None:
    """ccrkit's Hugging Face BERT carries a pooler CCRk's text encoder does not have; ccrkit
    never reads it (`pooling: first`), so it is set to zero and recorded, not left random."""
    for name, value in method.state_dict().items():
        if name.startswith("text.model.pooler.") and name not in mapped.tensors:
            mapped.tensors[name] = torch.zeros_like(value)
            mapped.dropped[f"(ccrkit) {name}"] = (
                "ccrkit's BERT pooler: absent from CCRk, zero, never used"
            )


def _summary(path: Path, mapped: Mapped, not_imported: dict[str, str], saved_config: dict[str, Any],
             data: str, fusion: int) -> dict[str, Any]:  # fmt: skip
    return {
        "format": "ccrk", "source": str(path), "variant": f"one_to_k, {fusion} text layers",
        "tensors": len(mapped.tensors), "dropped": note_counts(mapped.dropped),
        "not_imported": note_counts(not_imported), "data": data,
        "config": {k: v for k, v in saved_config.items() if isinstance(v, str | int | float | bool)},
    }  # fmt: skip
