"""NRF's terms and routing: which pairs train the filter, the target-only filter at inference,
the source teacher, the English-first epochs, and no human target caption in training."""

from __future__ import annotations

import pytest
import torch
from later_methods import batch, tiny_method

from ccrkit.losses import feature_distance, info_nce
from ccrkit.methods import required_roles
from ccrkit.methods.nrf import Nrf, SelectionInput

ALL_TERMS = {"contrastive/source", "contrastive/mt:de", "guidance/mt:de", "cross_lingual/mt:de"}


def prepared(selector: str = "fraction", **selection: object) -> Nrf:
    """A tiny NRF whose dataset-level selector decided on a 3-row training set."""
    method = tiny_method("nrf", selector=selector, selection=selection)

    class Rows:  # the three examples of `later_methods.batch`
        target_langs = ("de",)

        def __len__(self) -> int:
            return 3

    method.prepare_training(Rows())
    return method


def test_terms_and_their_values() -> None:
    method = prepared("all").eval()
    b = batch(method)
    terms = method(b)
    assert set(terms) == ALL_TERMS
    visual = method.encode_visual(b.visual)
    e_s = method.encode_text(b.views["source"], "en")
    f_t = method.encode_text(b.views["mt:de"], "de")
    tau, labels = 0.07, b.item_index
    assert terms["contrastive/source"].item() == pytest.approx(
        info_nce(e_s, visual, tau, labels).item(), abs=1e-5
    )
    assert terms["contrastive/mt:de"].item() == pytest.approx(
        info_nce(f_t, visual, tau, labels).item(), abs=1e-5
    )
    assert terms["guidance/mt:de"].item() == pytest.approx(
        feature_distance(f_t, e_s).item(), abs=1e-5
    )
    assert terms["cross_lingual/mt:de"].item() == pytest.approx(
        info_nce(f_t, e_s, tau).item(), abs=1e-5
    )


def test_only_selected_pairs_train_the_filter_and_the_cross_lingual_term() -> None:
    method = prepared("fraction", fraction=0.0).eval()
    terms = method(batch(method))
    assert terms["guidance/mt:de"].item() == 0.0 and terms["cross_lingual/mt:de"].item() == 0.0
    sum(terms.values()).backward()  # still one connected, finite graph
    assert all(torch.isfinite(p.grad).all() for p in method.parameters() if p.grad is not None)
    # with a fraction the two terms see the kept rows only
    method = prepared("fraction", fraction=0.7, seed=1).eval()  # keeps round(2.1) = 2 rows
    b = batch(method)
    kept = method.selector.keep(SelectionInput("de", len(b), b.example_index))
    assert int(kept.sum()) == 2
    f_t = method.encode_text(b.views["mt:de"], "de")
    e_s = method.encode_text(b.views["source"], "en")
    terms = method(b)
    assert terms["guidance/mt:de"].item() == pytest.approx(
        feature_distance(f_t[kept], e_s[kept]).item(), abs=1e-5
    )
    assert terms["cross_lingual/mt:de"].item() == pytest.approx(
        info_nce(f_t[kept], e_s[kept], 0.07).item(), abs=1e-5
    )


def test_the_filter_serves_target_captions_only() -> None:
    method = prepared("all").eval()
    b = batch(method)
    english = method.encode_text(b.views["source"], "en")
    german = method.encode_text(b.views["mt:de"], "de")
    with torch.no_grad():
        for param in method.noise_filter.parameters():
            param.add_(0.5)
    assert torch.equal(method.encode_text(b.views["source"], "en"), english)
    assert not torch.allclose(method.encode_text(b.views["mt:de"], "de"), german)
    # without a filter, both languages take the same path
    plain = tiny_method("nrf", filter_layers=0, selector="all").eval()
    tokens = b.views["mt:de"]
    assert torch.equal(plain.encode_text(tokens, "de"), plain.encode_text(tokens, "en"))


def test_the_guidance_trains_the_filter_and_the_cross_teacher_replaces_e_s() -> None:
    method = prepared("all").eval()
    b = batch(method)
    guidance = method(b)["guidance/mt:de"]
    guidance.backward()
    assert all(p.grad is None or p.grad.abs().sum() > 0 for p in method.noise_filter.parameters())
    # the cross-attention teacher (NRCCR's e_c) changes the target of the guidance
    crossed = tiny_method("nrf", selector="all", cross_teacher=True).eval()
    crossed.prepare_training(None)
    assert crossed(b)["guidance/mt:de"].item() != pytest.approx(guidance.item(), abs=1e-4)


def test_english_epochs_train_the_source_term_alone() -> None:
    method = tiny_method("nrf", selector="all", english_epochs=1)
    method.prepare_training(None)
    b = batch(method)
    method.start_epoch(1)
    assert set(method(b)) == {"contrastive/source"}
    method.start_epoch(2)
    assert set(method(b)) == ALL_TERMS


def test_a_human_target_caption_in_the_batch_changes_nothing() -> None:
    method = prepared("all").eval()
    plain = method(batch(method))
    human = {"human:de": ["völlig andere worte", "noch etwas", "und mehr"]}
    with_human = method(batch(method, extra=human))
    assert {k: v.item() for k, v in plain.items()} == {k: v.item() for k, v in with_human.items()}


def test_required_roles_follow_the_selector() -> None:
    assert set(required_roles({"name": "nrf"})) == {"mt"}  # roundtrip reads files, not batches
    assert set(required_roles({"name": "nrf", "selector": "similarity",
                               "selection": {"between": "backtranslation"}})) == {"mt", "bt"}  # fmt: skip
    method = tiny_method("nrf", selector="similarity", selection={"between": "backtranslation"})
    method.prepare_training(None)
    with pytest.raises(ValueError, match=r"'bt:de'.*add 'bt' to data\.roles"):
        method(batch(method, views=("source", "mt:de")))
    assert set(method(batch(method))) == ALL_TERMS
