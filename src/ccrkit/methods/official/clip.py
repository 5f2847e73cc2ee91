"""OpenAI CLIP weights (the `clip` package's ViT state dict) as a Hugging Face CLIP vision tower.

NRCCR's CLIP image model keeps the whole OpenAI CLIP inside its checkpoint; its forward calls
`encode_image` only. The vision half becomes `CLIPVisionModelWithProjection` weights — the class
ccrkit's `clip` visual encoder runs — and the text half is dropped (never called). Renaming, per
ResidualAttentionBlock i (OpenAI → Hugging Face):

    conv1.weight                     → embeddings.patch_embedding.weight
    class_embedding                  → embeddings.class_embedding
    positional_embedding             → embeddings.position_embedding.weight
    ln_pre / ln_post                 → pre_layrnorm / post_layernorm
    transformer.resblocks.i.attn.in_proj_{weight,bias}  → split in three: self_attn.{q,k,v}_proj
    transformer.resblocks.i.attn.out_proj → self_attn.out_proj
    transformer.resblocks.i.ln_1 / ln_2   → layer_norm1 / layer_norm2
    transformer.resblocks.i.mlp.c_fc / c_proj → mlp.fc1 / mlp.fc2
    proj (width × dim, used as x @ proj) → visual_projection.weight (its transpose)

(every name but the projection sits under `vision_model.`). Hugging Face's `quick_gelu` is the
QuickGELU of OpenAI's blocks, and OpenAI's heads are width / 64.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from ccrkit.methods.official.torchfile import OfficialCheckpointError

VISION = "visual."
RESBLOCK = re.compile(r"^transformer\.resblocks\.(\d+)\.(.+)$")
BLOCK_PARTS = {
    "attn.out_proj.": "self_attn.out_proj.",
    "ln_1.": "layer_norm1.",
    "ln_2.": "layer_norm2.",
    "mlp.c_fc.": "mlp.fc1.",
    "mlp.c_proj.": "mlp.fc2.",
}
TOP_PARTS = {
    "conv1.weight": "embeddings.patch_embedding.weight",
    "class_embedding": "embeddings.class_embedding",
    "positional_embedding": "embeddings.position_embedding.weight",
    "ln_pre.weight": "pre_layrnorm.weight",
    "ln_pre.bias": "pre_layrnorm.bias",
    "ln_post.weight": "post_layernorm.weight",
    "ln_post.bias": "post_layernorm.bias",
}
HEAD_WIDTH = 64  # OpenAI CLIP: heads = width // 64


def vision_config(state: dict[str, torch.Tensor], source: str) -> dict[str, Any]:
    """CLIPVisionConfig fields read from the shapes of an OpenAI ViT state (keys `visual.*`)."""
    if VISION + "conv1.weight" not in state or VISION + "proj" not in state:
        raise OfficialCheckpointError(
            f"{source}: the CLIP inside this checkpoint is not a ViT (no visual.conv1/visual.proj; "
            "a ResNet CLIP such as RN50?); ccrkit's clip encoder runs ViT towers only"
        )
    width, _, patch, _ = state[VISION + "conv1.weight"].shape
    positions = state[VISION + "positional_embedding"].shape[0]
    grid = round((positions - 1) ** 0.5)
    layers = {int(m.group(1)) for k in state if (m := RESBLOCK.match(k.removeprefix(VISION)))}
    return {
        "hidden_size": int(width),
        "intermediate_size": int(
            state[VISION + "transformer.resblocks.0.mlp.c_fc.weight"].shape[0]
        ),
        "num_hidden_layers": len(layers),
        "num_attention_heads": max(1, int(width) // HEAD_WIDTH),
        "image_size": int(patch) * grid,
        "patch_size": int(patch),
        "projection_dim": int(state[VISION + "proj"].shape[1]),
        "hidden_act": "quick_gelu",
        "layer_norm_eps": 1e-5,
    }


def vision_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The Hugging Face `CLIPVisionModelWithProjection` state of the `visual.*` tensors."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not key.startswith(VISION):
            continue
        name = key.removeprefix(VISION)
        if name == "proj":
            out["visual_projection.weight"] = value.t().contiguous()
        elif name in TOP_PARTS:
            out["vision_model." + TOP_PARTS[name]] = value
        elif match := RESBLOCK.match(name):
            out |= _block(f"vision_model.encoder.layers.{match.group(1)}.", match.group(2), value)
        else:
            out["vision_model.?" + name] = value  # no Hugging Face place: reported by the loader
    return out


def _block(prefix: str, part: str, value: torch.Tensor) -> dict[str, torch.Tensor]:
    if part.startswith("attn.in_proj_"):
        kind = part.removeprefix("attn.in_proj_")  # weight or bias, rows q | k | v
        q, k, v = value.chunk(3, dim=0)
        return {
            f"{prefix}self_attn.{name}_proj.{kind}": t.contiguous()
            for name, t in zip("qkv", (q, k, v), strict=True)
        }
    for old, new in BLOCK_PARTS.items():
        if part.startswith(old):
            return {prefix + new + part.removeprefix(old): value}
    return {prefix + "?" + part: value}
