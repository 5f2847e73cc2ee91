"""The baseline method: named, weighted loss terms per caption view; embeddings; config checks."""

from __future__ import annotations

import math

import pytest
import torch

from ccrkit.config import ConfigError
from ccrkit.data.batch import TrainBatch, VisualBatch
from ccrkit.losses import info_nce, triplet_max_violation
from ccrkit.methods import METHODS, build_method, view_language, views_of_role
from ccrkit.models import BuildContext

TEXTS = {
    "source": ["a red circle", "a blue star", "a red circle again"],
    "mt:de": ["ein roter kreis", "ein blauer stern", "wieder ein roter kreis"],
    "bt:de": ["a red circle", "a blue star", "again a red circle"],
}


def make(**method: object):
    config = {
        "text_encoder": {"name": "builtin", "dim": 16, "layers": 1, "heads": 2, "ffn_dim": 32,
                         "vocab_size": 80, "dropout": 0.0},
        "visual_encoder": {"name": "feature", "hidden": 8},
        "method": {"name": "baseline", "embed_dim": 8, **method},
    }  # fmt: skip
    corpus = [t for texts in TEXTS.values() for t in texts]
    torch.manual_seed(0)
    return build_method(config, BuildContext(visual_dim=4, corpus=lambda: iter(corpus)))


def batch(method, views=("source", "mt:de")) -> TrainBatch:
    torch.manual_seed(1)
    visual = VisualBatch(torch.randn(3, 1, 4), torch.ones(3, 1, dtype=torch.bool), "feature")
    return TrainBatch(["r", "b", "r"], torch.tensor([0, 1, 0]), visual,
                      {v: method.tokenize(TEXTS[v]) for v in views})  # fmt: skip


def test_terms_are_named_per_view_and_use_multi_positive_info_nce() -> None:
    method = make(temperature=0.05, learn_temperature=False).eval()
    data = batch(method)
    terms = method(data)
    assert sorted(terms) == ["info_nce/mt:de", "info_nce/source"]
    text = method.encode_text(data.views["mt:de"], "de")
    visual = method.encode_visual(data.visual)
    expected = info_nce(text, visual, 0.05, data.item_index)
    assert terms["info_nce/mt:de"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_view_weights_scale_terms_and_zero_drops_them() -> None:
    method = make(views={"source": 0.0, "mt": 0.5}).eval()
    full = make(views={"mt": 1.0}).eval()
    data = batch(method)
    terms = method(data)
    assert (
        list(terms) == ["info_nce/mt:de"] == list(full(data))
    )  # a given dict replaces the default
    assert terms["info_nce/mt:de"].item() == pytest.approx(
        0.5 * full(data)["info_nce/mt:de"].item(), rel=1e-5
    )


def test_triplet_option_is_nrccrs_max_violation() -> None:
    method = make(loss="triplet", margin=0.3, views={"source": 1.0}).eval()
    data = batch(method, ("source",))
    text, visual = method.encode_text(data.views["source"], "en"), method.encode_visual(data.visual)
    expected = triplet_max_violation(text, visual, 0.3)
    assert method(data)["triplet/source"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_learnable_temperature_is_a_clamped_parameter() -> None:
    method = make(temperature=0.07, temperature_range=[0.01, 0.5])
    assert "log_temperature" in dict(method.named_parameters())
    assert method.temperature().item() == pytest.approx(0.07, rel=1e-5)
    with torch.no_grad():
        method.log_temperature.fill_(math.log(1e-4))
    assert method.temperature().item() == pytest.approx(0.01, rel=1e-5)
    fixed = make(learn_temperature=False)
    assert "log_temperature" not in dict(fixed.named_parameters())
    assert "log_temperature" not in dict(make(loss="triplet").named_parameters())


def test_embeddings_are_unit_vectors() -> None:
    method = make().eval()
    data = batch(method)
    assert torch.allclose(
        method.encode_text(data.views["source"], "en").norm(dim=1), torch.ones(3), atol=1e-5
    )
    assert torch.allclose(method.encode_visual(data.visual).norm(dim=1), torch.ones(3), atol=1e-5)


def test_a_view_missing_from_the_batch_is_named() -> None:
    method = make(views={"source": 1.0, "bt": 1.0})
    with pytest.raises(
        ValueError, match=r"caption role 'bt' but the batch has views: mt:de, source"
    ):
        method(batch(method))


def test_bad_method_config_names_the_key_and_choices() -> None:
    with pytest.raises(ConfigError, match=r"method.lose"):
        make(lose="triplet")
    with pytest.raises(ConfigError, match=r"loss must be one of info_nce, triplet"):
        make(loss="hinge")
    with pytest.raises(ConfigError, match=r"unknown method 'nope'; known: baseline, .*nrccr"):
        build_method({"method": {"name": "nope"}}, BuildContext())
    assert "baseline" in METHODS


def test_view_helpers() -> None:
    views = {"source": 0, "mt:de": 0, "mt:fr": 0, "bt:de": 0}
    assert views_of_role(views, "mt") == ["mt:de", "mt:fr"]
    assert [view_language(v) for v in ("source", "mt:fr", "bt:de", "human:de", "human_to_en:de")] == [
        "en", "fr", "en", "de", "en",
    ]  # fmt: skip
