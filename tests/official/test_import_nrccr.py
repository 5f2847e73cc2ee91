"""`ccrkit import nrccr`: an official-format checkpoint written by the reference of the official
forward (nrccr_reference.py) gives the same embeddings and similarities once imported."""

from __future__ import annotations

import pytest
import torch
from nrccr_reference import build_reference, opt_for, save_official

from ccrkit.cli.main import main
from ccrkit.config import build
from ccrkit.data.batch import VisualBatch
from ccrkit.methods.checkpoint import load_method
from ccrkit.models.visual_pixels import CLIP_MEAN, CLIP_STD
from ccrkit.train.config import RunConfig

pytest.importorskip("transformers")

TEXTS = [
    "Ein Hund läuft über die Wiese.",
    "zwei Kinder",
    "Two children play on the beach, a dog runs.",
    "strand",
]


def imported(tmp_path, kind: str, **opt) -> tuple:
    reference = build_reference(kind, opt.pop("text_model"))
    checkpoint = save_official(reference, opt_for(kind, **opt), tmp_path / "model_best.pth.tar")
    return reference, checkpoint


def run_import(checkpoint, text_model, out) -> None:
    argv = ["import", "nrccr", str(checkpoint), "--text-model", str(text_model), "--out", str(out)]
    assert main(argv) == 0


def compare(reference, method, visual: VisualBatch, *reference_visual: torch.Tensor) -> None:
    tokens = method.tokenize(TEXTS)
    assert tokens.attention_mask.sum(1).unique().numel() > 1  # padding present: the pooling matters
    with torch.no_grad():
        ours_text = method.encode_text(tokens, "de")
        ref_text = reference.embed_text(tokens.input_ids, tokens.attention_mask)
        ours_visual = method.encode_visual(visual)
        ref_visual = reference.embed_visual(*reference_visual)
    torch.testing.assert_close(ours_text, ref_text, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours_visual, ref_visual, atol=1e-5, rtol=0)
    torch.testing.assert_close(
        ours_text @ ours_visual.T, ref_text @ ref_visual.T, atol=1e-5, rtol=0
    )
    assert ref_text.std() > 0.01 and ref_visual.std() > 0.01  # not a degenerate comparison


def test_image_model_with_features_reproduces_the_official_forward(tmp_path, text_model, capsys):
    reference, checkpoint = imported(tmp_path, "image", text_model=text_model)
    run_import(checkpoint, text_model, tmp_path / "run")
    assert "dropped by rule: 1" in capsys.readouterr().out  # the mBERT position_ids buffer
    method, record = load_method(tmp_path / "run")
    features = torch.randn(5, 24, generator=torch.Generator().manual_seed(1))
    compare(
        reference,
        method,
        VisualBatch(features[:, None], torch.ones(5, 1, dtype=torch.bool), "feature"),
        features,
    )
    config = record["config"]
    assert (
        config["data"]["name"] == "multi30k-task1-de" and config["data"]["feature"] == "resnet_152"
    )
    assert config["method"]["nrccr_compat_padding_pool"] and config["eval"]["batch_size"] == 64
    assert config["text_encoder"]["finetune"] == [1] and record["epoch"] == 7
    build(RunConfig, config, "imported")  # a valid run config, as `ccrkit train` would read it


def test_video_model_reproduces_the_official_forward(tmp_path, text_model):
    reference, checkpoint = imported(
        tmp_path, "video", text_model=text_model, visual_feature="i3d_kinetics"
    )
    run_import(checkpoint, text_model, tmp_path / "run")
    method, record = load_method(tmp_path / "run")
    lengths = torch.tensor([3, 7, 1, 5])
    frames = torch.randn(4, 7, 24, generator=torch.Generator().manual_seed(2))
    mask = torch.arange(7)[None] < lengths[:, None]
    frames = frames * mask[..., None]  # padded frames are zeros, as the official collate makes them
    compare(reference, method, VisualBatch(frames, mask, "frames"), frames, mask)
    assert record["config"]["visual_encoder"]["compat_padding_pool"] is True
    assert (
        record["config"]["data"]["name"] == "vatex-zh"
        and record["config"]["method"]["discriminator"] == "strong"
    )


def test_clip_image_model_reproduces_the_official_forward(tmp_path, text_model):
    reference, checkpoint = imported(tmp_path, "clip", text_model=text_model)
    run_import(checkpoint, text_model, tmp_path / "run")
    method, record = load_method(tmp_path / "run")
    pixels = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    normalised = (pixels - torch.tensor(CLIP_MEAN)[:, None, None]) / torch.tensor(CLIP_STD)[
        :, None, None
    ]
    compare(
        reference,
        method,
        VisualBatch(pixels, torch.ones(3, 1, dtype=torch.bool), "pixels"),
        normalised,
    )
    assert record["config"]["data"]["feature"] == "raw"
    assert record["imported"]["dropped"]  # CLIP's text tower, listed with its reason


def test_the_mapping_table_in_the_docs_lists_every_rule():
    from pathlib import Path

    from ccrkit.methods.official.nrccr import CLIP_HF, VARIANT_RULES, rules

    table = (Path(__file__).parents[2] / "docs" / "import.md").read_text(encoding="utf-8")
    for variant in VARIANT_RULES:
        for rule in rules(variant):
            source = "vid_encoding.encoder.visual." if rule.source == CLIP_HF else rule.source
            target = "dropped" if rule.target is None else f"`{rule.target}`"
            assert f"| `{source}` | {target}" in table, rule
