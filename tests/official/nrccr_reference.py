"""A reference of the official NRCCR forward pass (HuiGuanLab/nrccr, model.py and its helpers),
written for the tests from the official structure: the same module tree (so `state_dict()` gives
the official key names), computed step by step without any ccrkit code, and a writer of the
official checkpoint format. Used by the import equivalence tests and by the rehearsal.

What it reproduces, per official class:
- `LinearLayer`: LayerNorm -> Dropout -> Linear -> ReLU;
- `TrainablePositionalEncoding`: LayerNorm(x + position table[:L]) -> Dropout;
- `BertAttention`: q/k projected to 512, v to H, `heads` heads, scores / sqrt(H / heads), additive
  -10000 where the outer product of the query and key masks is 0, softmax; output Linear, then
  LayerNorm(out + query);
- text/video encodings: mean over all L positions (padding included);
- `image_encoding`: ReLU(Linear); `image_encoding_clip`: Linear(CLIP encode_image) without
  activation, CLIP being OpenAI's ViT (conv patches, class token, positions, ln_pre, residual
  blocks of nn.MultiheadAttention + QuickGELU MLP, ln_post on the class token, @ proj);
- `Latent_mapping`: Linear -> BatchNorm1d -> Dropout -> x / ||x||;
- `Adversarial`'s discriminators (not-so-weak MLP, strong Conv1d + 3 residual blocks).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

KEY_QUERY = 512  # BertSelfAttention.key_query_size
TEXT_POSITIONS, VIDEO_POSITIONS = 250, 80


class LinearLayer(nn.Module):
    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.LayerNorm = nn.LayerNorm(d_in)
        self.net = nn.Sequential(nn.Dropout(0.1), nn.Linear(d_in, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.net(self.LayerNorm(x)))


class Positions(nn.Module):
    def __init__(self, positions: int, hidden: int) -> None:
        super().__init__()
        self.position_embeddings = nn.Embedding(positions, hidden)
        self.LayerNorm = nn.LayerNorm(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = torch.arange(x.shape[1])
        return self.LayerNorm(x + self.position_embeddings(steps)[None])


class SelfAttention(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.query = nn.Linear(hidden, KEY_QUERY)
        self.key = nn.Linear(hidden, KEY_QUERY)
        self.value = nn.Linear(hidden, hidden)


class SelfOutput(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.LayerNorm = nn.LayerNorm(hidden)


class Attention(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads, self.hidden = heads, hidden
        self.self = SelfAttention(hidden)
        self.output = SelfOutput(hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n, length, _ = x.shape
        pair = mask[:, :, None] * mask[:, None, :]  # (N, L, L): matmul(mask^T, mask)
        bias = ((1.0 - pair) * -10000.0)[:, None]

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(n, length, self.heads, t.shape[-1] // self.heads).permute(0, 2, 1, 3)

        q, k, v = heads(self.self.query(x)), heads(self.self.key(x)), heads(self.self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.hidden / self.heads) + bias
        context = (scores.softmax(-1) @ v).permute(0, 2, 1, 3).reshape(n, length, self.hidden)
        return self.output.LayerNorm(self.output.dense(context) + x)


class Tower(nn.Module):
    """The layers the official text and video encodings share (attribute names as there)."""

    def __init__(self, d_in: int, hidden: int, heads: int, positions: int) -> None:
        super().__init__()
        self.input_proj_layer = LinearLayer(d_in, hidden)
        self.pos_embed_layer = Positions(positions, hidden)
        self.encoder_layer = Attention(hidden, heads)

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.pos_embed_layer(self.input_proj_layer(x))
        return self.encoder_layer(x, mask.float()).mean(dim=1)


class BertHolder(nn.Module):
    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.text_bert = bert


class TextEncoding(Tower):
    def __init__(self, bert: nn.Module, hidden: int, heads: int) -> None:
        super().__init__(bert.config.hidden_size, hidden, heads, TEXT_POSITIONS)
        self.text_bert = BertHolder(bert)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n, length = ids.shape
        states = self.text_bert.text_bert(
            ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids),
            position_ids=torch.arange(length).expand(n, length),
        ).last_hidden_state  # fmt: skip
        return self.encode(states, mask)


class VideoEncoding(Tower):
    def __init__(self, d_in: int, hidden: int, heads: int) -> None:
        super().__init__(d_in, hidden, heads, VIDEO_POSITIONS)

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.encode(frames, mask)


class ImageEncoding(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.relu(self.proj(features))


class ResidualBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, 4 * width))
        self.mlp.add_module("c_proj", nn.Linear(4 * width, width))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (L, N, D)
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        hidden = self.mlp.c_fc(self.ln_2(x))
        return x + self.mlp.c_proj(hidden * torch.sigmoid(1.702 * hidden))


class Blocks(nn.Module):
    def __init__(self, width: int, heads: int, layers: int) -> None:
        super().__init__()
        self.resblocks = nn.Sequential(*(ResidualBlock(width, heads) for _ in range(layers)))


class VisionTransformer(nn.Module):
    def __init__(self, image: int, patch: int, width: int, layers: int, out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(width))
        self.positional_embedding = nn.Parameter(torch.randn((image // patch) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Blocks(width, width // 64, layers)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.randn(width, out) / width**0.5)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.conv1(pixels).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        x = self.ln_pre(torch.cat([cls, x], dim=1) + self.positional_embedding)
        x = self.transformer.resblocks(x.transpose(0, 1)).transpose(0, 1)
        return self.ln_post(x[:, 0]) @ self.proj


class Clip(nn.Module):
    """OpenAI CLIP's state layout: the ViT under `visual.`, a small text tower beside it."""

    def __init__(self, image: int, patch: int, width: int, layers: int, out: int) -> None:
        super().__init__()
        self.visual = VisionTransformer(image, patch, width, layers, out)
        self.transformer = Blocks(64, 1, 1)
        self.token_embedding = nn.Embedding(20, 64)
        self.positional_embedding = nn.Parameter(torch.randn(7, 64))
        self.ln_final = nn.LayerNorm(64)
        self.text_projection = nn.Parameter(torch.randn(64, out))
        self.logit_scale = nn.Parameter(torch.tensor(4.6))


class ClipImageEncoding(nn.Module):
    def __init__(self, clip: Clip, out: int) -> None:
        super().__init__()
        self.encoder = clip
        self.proj = nn.Linear(clip.visual.proj.shape[1], out)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.proj(self.encoder.visual(pixels))


class MFC(nn.Module):
    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_in, d_out)
        self.bn_1 = nn.BatchNorm1d(d_out)


class LatentMapping(nn.Module):
    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.mapping = MFC(d_in, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mapping.bn_1(self.mapping.fc1(x))
        return y / y.pow(2).sum(dim=1, keepdim=True).sqrt()


class ResBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(width, width, 5, padding=2)
        self.conv2 = nn.Conv1d(width, width, 5, padding=2)


class Discriminator(nn.Module):
    def __init__(self, kind: str, dim: int) -> None:
        super().__init__()
        if kind == "strong":
            self.convolve = nn.Sequential(
                nn.Conv1d(dim, 128, 1), *(ResBlock(128) for _ in range(3))
            )
            self.model = nn.Linear(128, 2)
        else:
            self.model = nn.Sequential(
                nn.Linear(dim, 256), nn.Tanh(), nn.Linear(256, 128), nn.Tanh(), nn.Linear(128, 2)
            )


class AdvAgent(nn.Module):
    def __init__(self, kind: str, dim: int) -> None:
        super().__init__()
        self.discriminator = Discriminator(kind, dim)


class ReferenceNrccr(nn.Module):
    """The five official parts, in `BaseModel.state_dict()` order."""

    def __init__(self, visual: nn.Module, bert: nn.Module, hidden: int, heads: int,
                 visual_dim: int, embed: int, disc: str) -> None:  # fmt: skip
        super().__init__()
        self.vid_encoding = visual
        self.text_encoding = TextEncoding(bert, hidden, heads)
        self.vid_mapping = LatentMapping(visual_dim, embed)
        self.text_mapping = LatentMapping(hidden, embed)
        self.AdvAgent = AdvAgent(disc, bert.config.hidden_size)

    def embed_text(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.text_mapping(self.text_encoding(ids, mask))

    def embed_visual(self, *visual: torch.Tensor) -> torch.Tensor:
        return self.vid_mapping(self.vid_encoding(*visual))

    def official_state(self) -> list[dict[str, torch.Tensor]]:
        """`BaseModel.state_dict()` after `parallel()`: DataParallel's `module.` on the encodings,
        and the `position_ids` buffer transformers 3.x/4.x saved with mBERT's embeddings."""
        text = self.text_encoding.state_dict()
        positions = self.text_encoding.text_bert.text_bert.config.max_position_embeddings
        text["text_bert.text_bert.embeddings.position_ids"] = torch.arange(positions)[None]
        parts = [self.vid_encoding.state_dict(), text, self.vid_mapping.state_dict(),
                 self.text_mapping.state_dict(), self.AdvAgent.state_dict()]  # fmt: skip
        return [{f"module.{k}": v for k, v in part.items()} if i < 2 else dict(part)
                for i, part in enumerate(parts)]  # fmt: skip


def randomise(model: nn.Module, seed: int) -> nn.Module:
    """Every parameter and BatchNorm statistic drawn at random (a trained model's are not at
    their initial values), in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.dtype.is_floating_point:
                values = torch.randn(tensor.shape, generator=generator) * 0.3
                if name.endswith("running_var"):
                    values = values.abs() + 0.5
                elif name.endswith(("LayerNorm.weight", "ln_1.weight", "ln_2.weight", "ln_pre.weight",
                                    "ln_post.weight", "ln_final.weight", "bn_1.weight")):  # fmt: skip
                    values = values + 1.0
                tensor.copy_(values)
    return model.eval()


def tiny_bert_model(text_model: Path) -> nn.Module:
    """A model of the `--text-model` folder's config with its own random weights (the
    checkpoint's mBERT, which the import must take instead of the folder's weights)."""
    from transformers import BertConfig, BertModel

    return BertModel(BertConfig.from_pretrained(text_model), add_pooling_layer=True)


def opt_for(kind: str, **values: Any) -> argparse.Namespace:
    """The trainer's options (only those the import reads matter; the rest show the real shape)."""
    base = {
        "collection": "multi30k", "data_type": "google_enc2de", "task": 1, "model": "nrccr",
        "model_type": "img", "img_encoder": "resnet_152", "visual_feature": "resnet_152",
        "text_hidden_size": 32, "text_num_attention": 8, "video_hidden_size": 16,
        "video_num_attention": 8, "video_layer": 1, "text_layer": 1, "text_pooling": "mean",
        "video_pooling": "mean", "measure": "cosine", "dropout": 0.2, "disc_type": "not-so-weak",
        "frozen": "frozen", "layer_list": ["layer.1"], "tri_alpha": 0.6, "dtl_beta": 0.4,
        "l1_gama": 0.1, "back_w": 0.5, "scale": 0.001, "glr": 0.001, "margin": 0.2,
        "learning_rate": 1e-4, "batch_size": 128, "grad_clip": 2.0, "num_epochs": 50,
        "text_mapping_layers": [32, 24], "visual_mapping_layers": [24, 24],
        "collections_pathname": {"train": "multi30k", "val": "multi30k", "test": "multi30k"},
    }  # fmt: skip
    if kind == "video":
        base |= {"collection": "vatex", "data_type": "google_enc2zh", "model_type": "video",
                 "visual_feature": "i3d_kinetics", "disc_type": "strong"}  # fmt: skip
    if kind == "clip":
        base |= {"img_encoder": "clip", "img_encoder_name": "ViT-B/32", "img_encoder_input_dim": 8}
    return argparse.Namespace(**(base | values))


def build_reference(kind: str, text_model: Path, seed: int = 0, visual_dim: int = 24,
                    embed: int = 24) -> ReferenceNrccr:  # fmt: skip
    """A random official model: `kind` is "image" (ResNet-style features), "clip" or "video"."""
    torch.manual_seed(seed)
    bert = tiny_bert_model(text_model)
    hidden = bert.config.hidden_size  # the discriminator reads mBERT states of this width
    if kind == "video":
        visual: nn.Module = VideoEncoding(visual_dim, 16, 8)
        visual_out, disc = 16, "strong"
    elif kind == "clip":
        visual = ClipImageEncoding(Clip(image=32, patch=16, width=64, layers=1, out=8), 16)
        visual_out, disc = 16, "not-so-weak"
    else:
        visual = ImageEncoding(visual_dim)
        visual_out, disc = visual_dim, "not-so-weak"
    model = ReferenceNrccr(visual, bert, hidden, 8, visual_out, embed, disc)
    return randomise(model, seed)  # type: ignore[return-value]


def save_official(
    model: ReferenceNrccr, opt: argparse.Namespace, path: Path, epoch: int = 7
) -> Path:
    """`torch.save` of the dict `trainer_img.py` / `trainer_vid.py` write (`save_checkpoint`)."""
    state = {"epoch": epoch, "model": model.official_state(), "best_rsum": 123.4, "opt": opt,
             "Eiters": 4242}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path
