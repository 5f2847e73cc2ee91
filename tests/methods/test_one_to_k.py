"""The `one_to_k` method: K language views per example in one 1-to-K term; temperature clamping."""

from __future__ import annotations

import pytest
import torch

from ccrkit.config import ConfigError
from ccrkit.data.batch import TrainBatch, VisualBatch
from ccrkit.losses import one_to_k_nce
from ccrkit.methods import METHODS, build_method, required_roles
from ccrkit.models import BuildContext

TEXTS = {
    "source": ["a red circle", "a blue star", "a green square"],
    "mt:de": ["ein roter kreis", "ein blauer stern", "ein gruenes quadrat"],
    "mt:fr": ["un cercle rouge", "une etoile bleue", "un carre vert"],
    "bt:de": ["a red circle", "a blue star", "a green square"],
}


def make(**method: object):
    config = {
        "text_encoder": {"name": "builtin", "dim": 16, "layers": 1, "heads": 2, "ffn_dim": 32,
                         "vocab_size": 80, "dropout": 0.0},
        "visual_encoder": {"name": "feature", "hidden": 8},
        "method": {"name": "one_to_k", "embed_dim": 8, **method},
    }  # fmt: skip
    corpus = [t for texts in TEXTS.values() for t in texts]
    torch.manual_seed(0)
    return build_method(config, BuildContext(visual_dim=4, corpus=lambda: iter(corpus)))


def batch(method, views=("source", "mt:de", "mt:fr"), items=(0, 1, 2)) -> TrainBatch:
    torch.manual_seed(1)
    visual = VisualBatch(torch.randn(3, 1, 4), torch.ones(3, 1, dtype=torch.bool), "feature")
    return TrainBatch([f"i{i}" for i in items], torch.tensor(items), visual,
                      {v: method.tokenize(TEXTS[v]) for v in views})  # fmt: skip


def test_one_term_over_the_source_and_every_language_in_order() -> None:
    method = make().eval()
    data = batch(method)
    assert method.view_keys(data) == ["source", "mt:de", "mt:fr"]
    terms = method(data)
    assert list(terms) == ["one_to_k_nce"]
    text = torch.stack([method.encode_text(data.views[k], "xx") for k in method.view_keys(data)], 1)
    visual = method.encode_visual(data.visual)
    expected = one_to_k_nce(visual, text, 0.07, data.item_index)
    assert terms["one_to_k_nce"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_back_translations_add_views_and_are_required() -> None:
    method = make(views=["source", "mt", "bt"]).eval()
    data = batch(method, views=("source", "mt:de", "bt:de"))
    assert method.view_keys(data) == ["source", "mt:de", "bt:de"]
    section = {"name": "one_to_k", "views": ["source", "mt", "bt"]}
    assert set(required_roles(section)) == {"mt", "bt"}
    with pytest.raises(ValueError, match="names caption role 'bt' but the batch has views"):
        method(batch(method, views=("source", "mt:de")))


@pytest.mark.parametrize(("start", "clamped"), [(5.0, 0.5), (1e-5, 0.001), (0.2, 0.2)])
def test_temperature_is_clamped_in_place_before_each_step(start: float, clamped: float) -> None:
    method = make().train()
    data = batch(method)
    with torch.no_grad():
        method.tau.fill_(start)
    loss = method(data)["one_to_k_nce"]
    assert method.tau.item() == pytest.approx(clamped)
    loss.backward()
    assert method.tau.grad is not None and method.tau.grad.abs().item() > 0
    method.eval()  # evaluation never changes the parameter
    with torch.no_grad():
        method.tau.fill_(start)
    method(data)
    assert method.tau.item() == pytest.approx(start)


def test_fixed_temperature_is_a_buffer() -> None:
    method = make(learn_temperature=False, temperature=0.1)
    assert "tau" not in dict(method.named_parameters()) and method.tau.item() == pytest.approx(0.1)


def test_config_errors_name_the_field() -> None:
    assert METHODS.get("one_to_k").config_class.__name__ == "OneToKConfig"
    with pytest.raises(ConfigError, match="views must be distinct caption roles"):
        make(views=["source", "human"])
    with pytest.raises(ConfigError, match="temperature_range"):
        make(temperature=0.9)
