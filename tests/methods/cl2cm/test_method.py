"""CL2CM: retrieval through the cross-modal network alone, the two schedules, the frozen teacher,
and the terms against the losses they are made of."""

from __future__ import annotations

import pytest
import torch
from later_methods import batch, tiny_method

from ccrkit.config import ConfigError, build
from ccrkit.losses import info_nce, ot_alignment, relational_kd
from ccrkit.methods.cl2cm import Cl2cm, Cl2cmConfig

CL_TERMS = {"cl_sentence/mt:de", "cl_word_ot/mt:de"}
CM_TERMS = {"contrastive/source", "contrastive/mt:de", "relational_kt/mt:de"}


def grads(module: torch.nn.Module) -> list[bool]:
    return [p.grad is not None and bool(p.grad.abs().sum() > 0) for p in module.parameters()]


def test_encode_text_uses_only_the_cross_modal_network() -> None:
    method = tiny_method("cl2cm").eval()
    b = batch(method)
    calls: list[str] = []
    hooks = [module.register_forward_hook(lambda *_, name=name: calls.append(name))
             for name, module in method.cl.named_modules()]  # fmt: skip
    for view, lang in (("source", "en"), ("mt:de", "de")):
        before = method.encode_text(b.views[view], lang)
        with torch.no_grad():
            for param in method.cl.parameters():
                param.add_(float("nan"))  # a CL network that took part would poison the result
        assert torch.equal(method.encode_text(b.views[view], lang), before)
    method.encode_visual(b.visual)
    assert calls == []
    for hook in hooks:
        hook.remove()


def test_two_stage_trains_the_cl_network_then_the_cm_network_with_a_frozen_teacher() -> None:
    method = tiny_method("cl2cm", schedule="two_stage", cl_epochs=1).train()
    b = batch(method)
    method.start_epoch(1)
    terms = method(b)
    assert set(terms) == CL_TERMS and method.stage() == "cl"
    sum(terms.values()).backward()
    assert any(grads(method.cl)) and not any(grads(method.cm_tower))
    assert not any(grads(method.visual_tower)) and not any(grads(method.text))
    method.zero_grad(set_to_none=True)
    method.start_epoch(2)
    method.train()  # the trainer calls train() every epoch: the teacher stays in eval mode
    assert method.stage() == "cm" and not method.cl.training and method.cm_tower.training
    terms = method(b)
    assert set(terms) == CM_TERMS
    sum(terms.values()).backward()
    assert not any(grads(method.cl)) and any(grads(method.cm_tower)) and any(grads(method.text))


def test_joint_returns_every_term_and_the_transfer_spares_the_teacher() -> None:
    method = tiny_method("cl2cm", schedule="joint", cl_encoder="shared").train()
    terms = method(batch(method))
    assert set(terms) == CL_TERMS | CM_TERMS and method.stage() == "joint"
    terms["relational_kt/mt:de"].backward()
    assert not any(grads(method.cl.tower))  # the CL relations are the (detached) teacher
    assert method.cl.encoder is method.text  # shared encoder


def test_terms_equal_the_losses_they_are_made_of() -> None:
    method = tiny_method("cl2cm", schedule="joint").eval()
    b = batch(method)
    terms = method(b)
    visual = method.encode_visual(b.visual)
    e_s, e_t = (
        method.encode_text(b.views[v], lang) for v, lang in (("source", "en"), ("mt:de", "de"))
    )
    s_vec, s_states, s_mask = method.cl(b.views["source"])
    t_vec, t_states, t_mask = method.cl(b.views["mt:de"])
    expected = {
        "contrastive/source": info_nce(e_s, visual, 0.07, b.item_index),
        "contrastive/mt:de": info_nce(e_t, visual, 0.07, b.item_index),
        "cl_sentence/mt:de": info_nce(t_vec, s_vec, 0.07),
        "cl_word_ot/mt:de": ot_alignment(s_states, t_states, s_mask, t_mask),
        "relational_kt/mt:de": relational_kd(e_t, visual, t_vec, s_vec, 0.07),
    }
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value.item(), abs=1e-5), name


def test_the_cl_encoder_is_a_copy_by_default() -> None:
    method = tiny_method("cl2cm")
    assert method.cl.encoder is not method.text
    cl, cm = dict(method.cl.encoder.named_parameters()), dict(method.text.named_parameters())
    assert cl.keys() == cm.keys() and all(torch.equal(cl[k], cm[k]) for k in cl)
    assert {id(p) for p in cl.values()}.isdisjoint(id(p) for p in cm.values())


def test_config_rules() -> None:
    with pytest.raises(ConfigError, match="cl_encoder=copy or schedule=joint"):
        build(Cl2cmConfig, {"cl_encoder": "shared"}, "test", "method")
    with pytest.raises(ConfigError, match="schedule must be one of joint, two_stage"):
        build(Cl2cmConfig, {"schedule": "alternate"}, "test", "method")
    with pytest.raises(ConfigError, match="ot_plan_grad must be one of"):
        build(Cl2cmConfig, {"ot_plan_grad": "implicit"}, "test", "method")
    assert isinstance(tiny_method("cl2cm", ot_states="encoder"), Cl2cm)
