"""Masked pooling, NRCCR's attention block and the projection heads."""

from __future__ import annotations

import math

import pytest
import torch

from ccrkit.data.batch import VisualBatch
from ccrkit.models import (
    BuildContext,
    NrccrAttention,
    build_visual_encoder,
    masked_mean,
    projection_head,
)


def test_masked_mean_ignores_padding_even_nan() -> None:
    tokens = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [float("nan"), 9.0]]])
    mask = torch.tensor([[True, True, False]])
    assert masked_mean(tokens, mask).tolist() == [[2.0, 3.0]]


def manual_attention(block: NrccrAttention, query, mask, context=None, context_mask=None):
    keys, key_mask = (query, mask) if context is None else (context, context_mask)
    heads, hidden = block.heads, query.shape[-1]
    q = block.query(query).view(1, -1, heads, 512 // heads).transpose(1, 2)
    k = block.key(keys).view(1, -1, heads, 512 // heads).transpose(1, 2)
    v = block.value(keys).view(1, -1, heads, hidden // heads).transpose(1, 2)
    scores = (
        q @ k.transpose(-1, -2) / math.sqrt(hidden / heads) + (~key_mask)[:, None, None] * -10000.0
    )
    out = block.out((scores.softmax(-1) @ v).transpose(1, 2).flatten(2))
    return block.norm(out) if context is not None else block.norm(out + query)


def test_nrccr_attention_matches_its_formula_in_both_modes() -> None:
    torch.manual_seed(0)
    block = NrccrAttention(hidden=16, heads=8, qk_dim=512, dropout=0.1).eval()
    query, context = torch.randn(1, 3, 16), torch.randn(1, 4, 16)
    qmask, cmask = torch.tensor([[True, True, False]]), torch.tensor([[True, False, True, True]])
    assert torch.allclose(block(query, qmask), manual_attention(block, query, qmask), atol=1e-5)
    crossed = block(query, qmask, context, cmask)
    assert torch.allclose(crossed, manual_attention(block, query, qmask, context, cmask), atol=1e-5)


def test_nrccr_attention_never_attends_to_padding() -> None:
    torch.manual_seed(1)
    block = NrccrAttention(hidden=16, heads=4, qk_dim=32).eval()
    real = torch.randn(1, 2, 16)
    padded = torch.cat([real, 100 * torch.randn(1, 3, 16)], dim=1)
    mask = torch.tensor([[True, True, False, False, False]])
    alone = block(real, torch.ones(1, 2, dtype=torch.bool))
    assert torch.allclose(block(padded, mask)[:, :2], alone, atol=1e-5)


def test_frame_encoder_embedding_does_not_depend_on_batch_padding() -> None:
    torch.manual_seed(2)
    encoder = build_visual_encoder(
        {"name": "frames", "hidden": 16, "heads": 4, "qk_dim": 32, "max_frames": 8, "positions": 8},
        BuildContext(visual_dim=6),
    ).eval()
    short = torch.randn(1, 3, 6)
    alone = encoder(VisualBatch(short, torch.ones(1, 3, dtype=torch.bool), "frames")).pooled
    long = torch.randn(1, 7, 6)
    values = torch.cat([torch.cat([short, torch.zeros(1, 4, 6)], 1), long])
    mask = torch.tensor([[True] * 3 + [False] * 4, [True] * 7])
    together = encoder(VisualBatch(values, mask, "frames")).pooled
    assert torch.allclose(together[0], alone[0], atol=1e-5)


def test_feature_encoder_rejects_the_wrong_kind() -> None:
    encoder = build_visual_encoder({"name": "feature", "hidden": 4}, BuildContext(visual_dim=3))
    frames = VisualBatch(torch.zeros(2, 5, 3), torch.ones(2, 5, dtype=torch.bool), "frames")
    with pytest.raises(ValueError, match=r"reads 'feature' batches but the data gives 'frames'"):
        encoder(frames)


@pytest.mark.parametrize("kind", ["mapping", "linear"])
def test_projection_heads_are_unit_norm(kind: str) -> None:
    head = projection_head(kind, 8, 5, dropout=0.2).train()
    out = head(torch.randn(4, 8))
    assert out.shape == (4, 5)
    assert torch.allclose(out.norm(dim=1), torch.ones(4), atol=1e-5)


def test_projection_head_unknown_kind_lists_known() -> None:
    with pytest.raises(ValueError, match=r"known: mapping, linear"):
        projection_head("mlp", 4, 4)


def test_unknown_encoder_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown visual encoder 'resnet'; known: clip, feature"):
        build_visual_encoder({"name": "resnet"}, BuildContext(visual_dim=3))
