"""Shapes through NRCCR's towers (image features, video frames, text) and its discriminators."""

from __future__ import annotations

import pytest
import torch
from nrccr_helpers import TEXTS, VISUAL_DIM, tiny_nrccr

from ccrkit.data.batch import VisualBatch
from ccrkit.models.discriminators import DISCRIMINATOR_HEADS, LanguageDiscriminator


def test_text_tower_shapes() -> None:
    method = tiny_nrccr().eval()
    source = method.tower.prepare(method.text(method.tokenize(TEXTS["source"])))
    target = method.tower.prepare(method.text(method.tokenize(TEXTS["mt:de"])))
    (tokens, mask), length = source, source[0].shape[1]
    assert tokens.shape == (3, length, 16) and mask.shape == (3, length)
    assert method.tower.self_branch(source).shape == (3, 16)
    assert method.tower.cross_branch(source, target).shape == (3, 16)
    embedded = method.encode_text(method.tokenize(TEXTS["mt:de"]), "de")
    assert embedded.shape == (3, 10)
    assert torch.allclose(embedded.norm(dim=1), torch.ones(3), atol=1e-5)


def test_image_tower_features_then_mapping() -> None:
    method = tiny_nrccr(visual={"name": "feature", "hidden": 12, "activation": "relu"}).eval()
    visual = VisualBatch(
        torch.randn(4, 1, VISUAL_DIM), torch.ones(4, 1, dtype=torch.bool), "feature"
    )
    out = method.encode_visual(visual)
    assert out.shape == (4, 10) and torch.allclose(out.norm(dim=1), torch.ones(4), atol=1e-5)


def test_image_tower_clip_style_projection_without_activation() -> None:
    method = tiny_nrccr(visual={"name": "feature"}, visual_hidden=7).eval()
    assert [type(m).__name__ for m in method.visual_proj] == ["Linear"]
    assert (
        method.visual_proj[0].in_features == VISUAL_DIM and method.visual_head[0].in_features == 7
    )
    visual = VisualBatch(
        torch.randn(2, 1, VISUAL_DIM), torch.ones(2, 1, dtype=torch.bool), "feature"
    )
    assert method.encode_visual(visual).shape == (2, 10)


@pytest.mark.parametrize("compat", [False, True])
def test_video_tower_temporal_block(compat: bool) -> None:
    frames = {"name": "frames", "hidden": 16, "heads": 2, "qk_dim": 8, "max_frames": 4,
              "positions": 6, "dropout": 0.0, "compat_padding_pool": compat}  # fmt: skip
    method = tiny_nrccr(visual=frames).eval()
    values = torch.randn(3, 5, VISUAL_DIM)  # 5 frames, truncated to 4
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    out = method.encode_visual(VisualBatch(values, mask, "frames"))
    assert out.shape == (3, 10)
    # the second video alone (2 real frames, no padding) vs. within the padded batch
    alone = method.encode_visual(VisualBatch(values[1:2, :2], mask[1:2, :2], "frames"))
    assert torch.allclose(alone, out[1:2], atol=1e-5) != compat  # compat: padding leaks in


@pytest.mark.parametrize("head", DISCRIMINATOR_HEADS)
def test_discriminator_heads_ignore_padding_unless_compat(head: str) -> None:
    torch.manual_seed(0)
    disc = LanguageDiscriminator(head, 8)
    states, mask = torch.randn(2, 5, 8), torch.ones(2, 5, dtype=torch.bool)
    logits = disc(states, mask)
    assert logits.shape == (2, 2)
    padded = torch.cat([states, torch.randn(2, 3, 8)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(2, 3, dtype=torch.bool)], dim=1)
    assert torch.allclose(disc(padded, padded_mask), logits, atol=1e-5)
    assert not torch.allclose(disc(padded, padded_mask, pad_pool=True), logits, atol=1e-5)


def test_discriminator_head_sizes() -> None:
    weak, mlp, strong = (LanguageDiscriminator(h, 768) for h in DISCRIMINATOR_HEADS)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(weak) == 768 * 2 + 2
    assert count(mlp) == (768 * 256 + 256) + (256 * 128 + 128) + (128 * 2 + 2)
    conv_block = 2 * (128 * 128 * 5 + 128)
    assert count(strong) == (768 * 128 + 128) + 3 * conv_block + (128 * 2 + 2)


def test_strong_head_residual_adds_back_the_rectified_input() -> None:
    block = LanguageDiscriminator("strong", 4).convolve[1]  # type: ignore[index]
    for conv in (block.conv1, block.conv2):
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.zeros_(conv.bias)
    x = torch.tensor([[[-1.0, 2.0]]]).expand(1, 128, 2)
    assert torch.equal(block(x), torch.relu(x))  # the official in-place ReLU: residual = ReLU(x)


def test_unknown_head() -> None:
    with pytest.raises(ValueError, match="valid heads: weak, not-so-weak, strong"):
        LanguageDiscriminator("mlp", 8)
