"""`ccrkit import nrccr`: an official NRCCR checkpoint (HuiGuanLab/nrccr) as a ccrkit run.

The file (`nrccr_file`: five state dicts and the trainer's `opt`, read with only
`argparse.Namespace` allowed in the pickle) becomes the matching ccrkit NRCCR (image: CLIP ViT or
precomputed features such as ResNet-152; video: the temporal block over frame features), built
from `opt` and the tensor shapes (`nrccr_config`). Every tensor is placed by the prefix rules
below — they are also the table in docs/import.md — and the compatibility switches make the
imported model's forward the official one: mean pooling over padded positions with the
outer-product attention mask (`nrccr_compat_padding_pool`, `visual_encoder.compat_padding_pool`),
the tester's evaluation batches of 64 (pooling over padding makes embeddings depend on their
batch), lower-cased, accent-stripped mBERT input and the training order of the official collate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ccrkit.methods.checkpoint import load_module_state
from ccrkit.methods.official import clip
from ccrkit.methods.official.mapping import Mapped, Rule, note_counts, remap
from ccrkit.methods.official.nrccr_config import run_config
from ccrkit.methods.official.nrccr_file import BERT, WHAT, OfficialNrccr, read_nrccr
from ccrkit.methods.official.runfolder import assets_dir, staged_run, write_imported_run
from ccrkit.methods.official.textmodel import (
    bert_shape,
    check_config,
    load_text_model,
    save_text_assets,
)
from ccrkit.methods.official.torchfile import OfficialCheckpointError
from ccrkit.models.base import BuildContext

CLIP_HF = "vid_encoding.encoder.hf."  # the CLIP vision tower after conversion (see clip.py)


def tower_rules(official: str, ccrkit: str) -> list[Rule]:
    """The NRCCR text/video layers (LinearLayer, TrainablePositionalEncoding, BertAttention)."""
    parts = [
        ("input_proj_layer.LayerNorm.", "input.0.", "LayerNorm before the input projection"),
        ("input_proj_layer.net.1.", "input.2.", "input projection Linear (net.0 is Dropout)"),
        ("pos_embed_layer.position_embeddings.", "positions.", "trainable positions"),
        ("pos_embed_layer.LayerNorm.", "position_norm.0.", "LayerNorm after adding positions"),
        ("encoder_layer.self.query.", "attention.query.", "query projection (H -> 512)"),
        ("encoder_layer.self.key.", "attention.key.", "key projection (H -> 512)"),
        ("encoder_layer.self.value.", "attention.value.", "value projection (H -> H)"),
        ("encoder_layer.output.dense.", "attention.out.", "attention output Linear"),
        ("encoder_layer.output.LayerNorm.", "attention.norm.", "attention output LayerNorm"),
    ]
    return [Rule(official + old, ccrkit + new, note) for old, new, note in parts]


def mapping_rules(official: str, ccrkit: str) -> list[Rule]:
    return [
        Rule(f"{official}.mapping.fc1.", f"{ccrkit}.0.", "mapping Linear (-> 1536)"),
        Rule(
            f"{official}.mapping.bn_1.", f"{ccrkit}.1.", "mapping BatchNorm1d (with running stats)"
        ),
    ]


SHARED_RULES = [
    *tower_rules("text_encoding.", "tower."),
    Rule(BERT, "text.model.", "the whole mBERT (embeddings, 12 layers, pooler)"),
    *mapping_rules("vid_mapping", "visual_head"),
    *mapping_rules("text_mapping", "text_head"),
    Rule("AdvAgent.discriminator.model.", "discriminator.classify.", "discriminator head (Linear / MLP)"),
    Rule("AdvAgent.discriminator.convolve.", "discriminator.convolve.", "strong discriminator: Conv1d + 3 ResBlocks"),
]  # fmt: skip
VARIANT_RULES = {
    "video": tower_rules("vid_encoding.", "visual."),
    "image-features": [
        Rule("vid_encoding.proj.", "visual.net.0.", "Linear(D -> D) before ReLU (image_encoding)"),
    ],
    "image-clip": [
        Rule("vid_encoding.proj.", "visual_proj.0.", "Linear(512 -> 1024) after CLIP, no activation"),
        Rule(CLIP_HF, "visual.backbone.", "CLIP's vision tower, renamed as in clip.py"),
        Rule("vid_encoding.encoder.", None, "CLIP's text tower and logit scale: never called (encode_image only)"),
    ],
}  # fmt: skip
BUFFER_RULES = [  # buffers older transformers saved and current ones rebuild
    Rule(BERT + "embeddings.position_ids", None, "buffer arange(L), rebuilt by transformers"),
    Rule(BERT + "embeddings.token_type_ids", None, "buffer of zeros, rebuilt by transformers"),
]


def rules(variant: str) -> list[Rule]:
    """Every rule of one variant (`video`, `image-features`, `image-clip`)."""
    return [*SHARED_RULES, *VARIANT_RULES[variant], *BUFFER_RULES]


def _official_state(found: OfficialNrccr) -> dict[str, torch.Tensor]:
    """The state to map; the CLIP image variant's OpenAI vision tower converted first."""
    if found.variant != "image-clip":
        return found.state
    prefix = "vid_encoding.encoder."
    openai = {k[len(prefix) :]: v for k, v in found.state.items() if k.startswith(prefix)}
    converted = {CLIP_HF + k: v for k, v in clip.vision_state(openai).items()}
    rest = {k: v for k, v in found.state.items() if not k.startswith(prefix + clip.VISION)}
    return rest | converted


def visual_dim(found: OfficialNrccr) -> int | None:
    if found.variant == "video":
        return found.shape("vid_encoding.input_proj_layer.LayerNorm.weight")[0]
    if found.variant == "image-features":
        return found.shape("vid_encoding.proj.weight")[1]
    return None


def import_nrccr(
    checkpoint: str | Path, text_model: str | Path, out: str | Path, *, data: str | None = None,
    root: str | None = None, force: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Write `out` as a ccrkit run holding the official checkpoint's model; returns the summary
    recorded in the run (`imported`)."""
    from ccrkit.methods.registry import build_method

    found = read_nrccr(checkpoint)
    text_model = Path(text_model).expanduser()
    hf_config, tokenizer = load_text_model(text_model)
    bert = {k[len(BERT) :]: v for k, v in found.state.items() if k.startswith(BERT)}
    check_config(hf_config, tokenizer, bert_shape(bert), text_model)
    config = run_config(found, text_model, data, root)
    build_info = {"visual_dim": visual_dim(found)}
    with staged_run(out, force) as staging:
        save_text_assets(hf_config, tokenizer, assets_dir(staging))
        if found.variant == "image-clip":
            _save_clip_assets(found, assets_dir(staging))
        context = BuildContext(build_info["visual_dim"], assets_dir=assets_dir(staging))
        method = build_method(config, context, f"{found.path} (imported)")
        mapped = remap(_official_state(found), rules(found.variant), str(found.path), WHAT)
        _load(method, mapped, found)
        imported = _summary(found, mapped, config)
        command = {"checkpoint": str(found.path), "text_model": str(text_model), "format": "nrccr",
                   "variant": found.variant, "data": config["data"]["name"]}  # fmt: skip
        write_imported_run(staging, method.eval(), config, build_info, imported, command)
    return imported


def _save_clip_assets(found: OfficialNrccr, assets: Path) -> None:
    from ccrkit.models.base import import_transformers
    from ccrkit.models.visual_pixels import ASSETS_NAME

    hf: Any = import_transformers("ccrkit import nrccr (CLIP)")
    prefix = "vid_encoding.encoder."
    openai = {k[len(prefix) :]: v for k, v in found.state.items() if k.startswith(prefix)}
    fields = clip.vision_config(openai, str(found.path))
    hf.CLIPVisionConfig(**fields).save_pretrained(assets / ASSETS_NAME)


def _load(method: torch.nn.Module, mapped: Mapped, found: OfficialNrccr) -> None:
    """Load every mapped tensor; a ccrkit tensor the checkpoint lacks (or one it has twice or
    in another shape) is an error naming it."""
    from ccrkit.methods.checkpoint import CheckpointError

    try:
        load_module_state(method, mapped.tensors, str(found.path), prefix="")
    except CheckpointError as err:
        raise OfficialCheckpointError(
            f"not {WHAT} of the {found.variant} kind ccrkit rebuilt from its opt: {err}"
        ) from None


def _summary(found: OfficialNrccr, mapped: Mapped, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": "nrccr", "source": str(found.path), "variant": found.variant,
        "epoch": found.epoch, "best_rsum": found.best_rsum, "Eiters": found.eiters,
        "tensors": len(mapped.tensors), "dropped": note_counts(mapped.dropped),
        "opt": {k: v for k, v in found.opt.items() if isinstance(v, str | int | float | bool | list | dict | type(None))},
        "data": config["data"]["name"],
    }  # fmt: skip
