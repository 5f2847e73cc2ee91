"""The NRCCR method: each term equals its loss on the branches' embeddings, with its weight;
ablation switches remove terms; the cross branch is training-only; bad configurations."""

from __future__ import annotations

import pytest
import torch
from nrccr_helpers import TEXTS, bind_no_steps, feature_batch, tiny_nrccr

from ccrkit.config import ConfigError
from ccrkit.losses import (
    adversarial_language,
    smooth_l1_feature,
    soft_target_distill,
    triplet_max_violation,
)
from ccrkit.methods import METHODS, required_roles
from ccrkit.methods.nrccr import ABLATION_SWITCHES, clean_english

ALL_TERMS = [
    "adversarial/mt:de",
    "bt_ranking/bt:de",
    "feature_view/mt:de",
    "similarity_view/mt:de",
    "triplet/mt:de",
    "triplet/source",
]


def embeddings(method, batch):
    """Every branch recomputed outside `forward` (eval mode: no dropout, BN running stats)."""
    views = batch.views
    source, target = method.text(views["source"]), method.text(views["mt:de"])
    cross = method.tower.cross_branch(method.tower.prepare(source), method.tower.prepare(target))
    return {
        "s": method.encode_text(views["source"], "en"),
        "t": method.encode_text(views["mt:de"], "de"),
        "b": method.encode_text(views["bt:de"], "en"),
        "c": method.text_head(cross),
        "v": method.encode_visual(batch.visual),
        "target_states": target,
    }


def test_every_term_is_its_loss_times_the_published_weight() -> None:
    method = tiny_nrccr(clean_source=False).eval()
    bind_no_steps(method)
    batch = feature_batch(method)
    terms = method(batch)
    assert sorted(terms) == ALL_TERMS
    with torch.no_grad():
        e = embeddings(method, batch)
        states = e["target_states"]
        fooled = method.discriminator(states.tokens, states.mask)
    expected = {
        "triplet/source": 1.0 * triplet_max_violation(e["s"], e["v"], 0.2),
        "triplet/mt:de": 0.6 * triplet_max_violation(e["t"], e["v"], 0.2),
        "similarity_view/mt:de": 0.4 * soft_target_distill(e["t"], e["c"], e["v"], 0.07),
        "feature_view/mt:de": 0.1 * smooth_l1_feature(e["t"], e["c"], 4.0),
        "bt_ranking/bt:de": 0.5 * triplet_max_violation(e["s"], e["b"], 0.2),
        "adversarial/mt:de": 0.001 * adversarial_language(fooled, player="encoder"),
    }
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value.item(), rel=1e-4, abs=1e-7), name


def test_weights_are_config() -> None:
    method = tiny_nrccr(clean_source=False, mt_weight=1.2, bt_weight=2.0).eval()
    reference = tiny_nrccr(clean_source=False).eval()
    for m in (method, reference):
        bind_no_steps(m)
    terms, base = method(feature_batch(method)), reference(feature_batch(reference))
    assert terms["triplet/mt:de"].item() == pytest.approx(
        2 * base["triplet/mt:de"].item(), rel=1e-5
    )
    assert terms["bt_ranking/bt:de"].item() == pytest.approx(
        4 * base["bt_ranking/bt:de"].item(), rel=1e-5
    )


@pytest.mark.parametrize("switch", ABLATION_SWITCHES)
def test_each_ablation_switch_removes_its_term(switch: str) -> None:
    method = tiny_nrccr(clean_source=False, **{switch: False}).eval()
    bind_no_steps(method)
    calls = []
    cross = method.tower.cross_branch
    method.tower.cross_branch = lambda *a: calls.append(1) or cross(*a)  # type: ignore[method-assign]
    terms = method(feature_batch(method))
    removed = {
        "source_term": ["triplet/source"],
        "similarity_view": ["similarity_view/mt:de"],
        "feature_view": ["feature_view/mt:de"],
        "back_translation": ["bt_ranking/bt:de"],
        "adversarial": ["adversarial/mt:de"],
        "cross_teacher": [],  # the distillation terms stay, with e_s as teacher
    }[switch]
    assert sorted(terms) == [name for name in ALL_TERMS if name not in removed]
    assert len(calls) == (0 if switch == "cross_teacher" else 1)
    if switch == "adversarial":
        assert method.discriminator is None and method.extra_optimizers() == []


def test_without_cross_teacher_the_source_teaches() -> None:
    method = tiny_nrccr(clean_source=False, cross_teacher=False).eval()
    bind_no_steps(method)
    batch = feature_batch(method)
    terms = method(batch)
    with torch.no_grad():
        e = embeddings(method, batch)
    expected = 0.4 * soft_target_distill(e["t"], e["s"], e["v"], 0.07)
    assert terms["similarity_view/mt:de"].item() == pytest.approx(expected.item(), rel=1e-4)


def test_all_components_off_is_translate_train_with_nrccrs_towers() -> None:
    off = dict.fromkeys(ABLATION_SWITCHES[1:], False)
    method = tiny_nrccr(clean_source=False, **off).eval()
    terms = method(feature_batch(method, ("source", "mt:de")))  # no bt needed, no discriminator
    assert sorted(terms) == ["triplet/mt:de", "triplet/source"]
    assert set(method.required_roles(method.config)) == {"mt"}


def test_cross_branch_only_in_training_evaluation_encodes_the_caption_alone() -> None:
    method = tiny_nrccr(clean_source=False)
    bind_no_steps(method)
    calls = []
    cross = method.tower.cross_branch
    method.tower.cross_branch = lambda *a: calls.append(1) or cross(*a)  # type: ignore[method-assign]
    batch = feature_batch(method)
    method.train()(batch)
    assert calls == [1]
    method.eval()
    alone = method.encode_text(method.tokenize([TEXTS["mt:de"][0]]), "de")
    within = method.encode_text(method.tokenize(TEXTS["mt:de"]), "de")[:1]
    assert calls == [1]  # evaluation never calls it
    assert torch.allclose(alone, within, atol=1e-5)  # batch-independent (padding never pooled)


def test_compat_padding_pool_makes_embeddings_depend_on_the_batch() -> None:
    method = tiny_nrccr(nrccr_compat_padding_pool=True).eval()
    alone = method.encode_text(method.tokenize([TEXTS["mt:de"][0]]), "de")
    within = method.encode_text(method.tokenize(TEXTS["mt:de"]), "de")[:1]
    assert not torch.allclose(alone, within, atol=1e-4)
    # the tower's pooled vector is the plain mean over the padded length
    tokens = method.tokenize(TEXTS["mt:de"])
    prepared = method.tower.prepare(method.text(tokens))
    attended = method.tower.attention(*prepared, outer_mask=True)
    assert torch.allclose(method.tower.self_branch(prepared), attended.mean(dim=1), atol=1e-6)


def test_compat_feature_grad_lets_the_feature_view_train_the_cross_branch() -> None:
    def cross_grad(compat: bool) -> float:
        method = tiny_nrccr(
            clean_source=False, nrccr_compat_feature_grad=compat, **dict.fromkeys(
                ["source_term", "similarity_view", "back_translation", "adversarial"], False)
        )  # fmt: skip
        batch = feature_batch(method)
        terms = method(batch)
        grads = torch.autograd.grad(
            terms["feature_view/mt:de"], method.tower.attention.query.weight
        )
        return grads[0].abs().sum().item()

    # the query projection acts on e_t's self-attention and e_c's cross-attention; the cross
    # branch's share of the gradient disappears when the teacher is detached
    assert cross_grad(True) != pytest.approx(cross_grad(False), rel=1e-3)


def test_clean_english_and_cleaned_sources() -> None:
    assert clean_english("Two dogs, running!") == "Two dogs running."
    assert clean_english("a man in a red shirt.") == "A man in a red shirt."
    assert clean_english("Café au lait") == "Caf au lait."
    raw = tiny_nrccr().eval()
    bind_no_steps(raw)
    batch = feature_batch(raw)
    dirty = {**batch.views, "source": raw.tokenize(["a red circle!!", *TEXTS["source"][1:]])}
    pre_cleaned = tiny_nrccr(clean_source=False).eval()
    bind_no_steps(pre_cleaned)
    from dataclasses import replace

    assert raw(replace(batch, views=dirty))["triplet/source"].item() == pytest.approx(
        pre_cleaned(batch)["triplet/source"].item(), rel=1e-5
    )


def test_missing_back_translations_say_how_to_disable_the_term() -> None:
    method = tiny_nrccr(clean_source=False)
    bind_no_steps(method)
    with pytest.raises(ValueError, match=r"'bt:de'.*method\.back_translation=false"):
        method(feature_batch(method, ("source", "mt:de")))
    assert set(required_roles({"name": "nrccr"})) == {"mt", "bt"}
    assert set(required_roles({"name": "nrccr", "back_translation": False})) == {"mt"}


def test_unknown_discriminator_head_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="weak, not-so-weak, strong"):
        tiny_nrccr(discriminator="mighty")
    assert METHODS.get("nrccr").config_class().discriminator == "not-so-weak"


def test_published_defaults() -> None:
    c = METHODS.get("nrccr").config_class()
    assert (c.mt_weight, c.similarity_weight, c.feature_weight, c.bt_weight) == (0.6, 0.4, 0.1, 0.5)
    assert (c.adversarial_weight, c.tau, c.smooth_l1_beta, c.margin) == (0.001, 0.07, 4.0, 0.2)
    assert (c.hidden, c.heads, c.qk_dim, c.positions, c.embed_dim) == (768, 8, 512, 250, 1536)
    assert (c.discriminator_lr, c.mapping_dropout, c.dropout) == (1e-3, 0.2, 0.1)
    assert not (c.nrccr_compat_padding_pool or c.nrccr_compat_feature_grad)
