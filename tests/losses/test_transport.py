"""Word-level OT (CL2CM): the cost, the Sinkhorn plans' marginals, the ε → 0 permutation limit
against an exact assignment, padding and empty sentences, and gradients."""

from __future__ import annotations

import math

import numpy as np
import ot
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from ccrkit.losses import ot_alignment, sinkhorn_plan, token_cost


def test_token_cost_is_one_minus_cosine() -> None:
    a = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])
    b = torch.tensor([[[3.0, 0.0], [1.0, 1.0]]])
    # cos: (a0, b0) 1, (a0, b1) 1/√2, (a1, b0) 0, (a1, b1) 1/√2
    expected = torch.tensor([[[0.0, 1 - 1 / math.sqrt(2)], [1.0, 1 - 1 / math.sqrt(2)]]])
    assert torch.allclose(token_cost(a, b), expected, atol=1e-6)


def masks(lengths: list[int], width: int) -> torch.Tensor:
    return torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]


def test_plans_meet_uniform_marginals_over_real_tokens_only() -> None:
    torch.manual_seed(0)
    cost = torch.rand(3, 5, 4) * 2
    mask_a, mask_b = masks([5, 3, 2], 5), masks([4, 4, 1], 4)
    plan = sinkhorn_plan(cost, mask_a, mask_b, epsilon=0.1, iterations=500)
    rows, cols = plan.sum(dim=2), plan.sum(dim=1)
    for k, (n, m) in enumerate([(5, 4), (3, 4), (2, 1)]):
        assert torch.allclose(rows[k, :n], torch.full((n,), 1 / n), atol=1e-5)
        assert torch.allclose(cols[k, :m], torch.full((m,), 1 / m), atol=1e-5)
        assert rows[k, n:].abs().sum() == 0 and cols[k, m:].abs().sum() == 0  # padding: no mass
    assert torch.allclose(plan.sum(dim=(1, 2)), torch.ones(3), atol=1e-5)


def test_a_padded_problem_matches_pot_on_the_unpadded_one() -> None:
    torch.manual_seed(1)
    cost = torch.rand(1, 6, 5, dtype=torch.float64)
    plan = sinkhorn_plan(cost, masks([4], 6), masks([3], 5), epsilon=0.2, iterations=300)
    small = cost[0, :4, :3].numpy()
    expected = ot.sinkhorn(np.full(4, 1 / 4), np.full(3, 1 / 3), small, 0.2,
                           method="sinkhorn_log", numItermax=3000, stopThr=1e-12)  # fmt: skip
    assert np.allclose(plan[0, :4, :3].double().numpy(), expected, atol=1e-5)


def test_small_epsilon_recovers_the_exact_assignment() -> None:
    rng = np.random.default_rng(3)
    cost = rng.uniform(0.0, 2.0, size=(6, 6))
    rows, cols = linear_sum_assignment(cost)
    exact = cost[rows, cols].sum() / 6  # the optimal plan is a permutation with mass 1/6 each
    plan = sinkhorn_plan(torch.tensor(cost)[None], masks([6], 6), masks([6], 6),
                         epsilon=1e-3, iterations=3000)[0]  # fmt: skip
    value = float((plan.double() * torch.tensor(cost)).sum())
    assert value == pytest.approx(exact, abs=2e-3)
    assert (plan.argmax(dim=1).numpy() == cols).all()
    assert float(plan.max(dim=1).values.min()) > 0.9 / 6  # nearly a permutation


def test_alignment_of_a_reordered_sentence_costs_nothing() -> None:
    """OT compares bags of tokens: a permutation of the same tokens aligns at zero cost (a
    mean-pooled comparison would too; a misaligned position-wise one would not)."""
    a = torch.eye(3)[None]  # three orthogonal tokens
    b = a[:, [2, 0, 1]]
    full = masks([3], 3)
    loss = ot_alignment(a, b, full, full, epsilon=0.01, iterations=300)
    assert loss.item() == pytest.approx(0.0, abs=1e-3)
    # orthogonal sets: every token costs 1
    other = torch.cat([torch.zeros(3, 3), torch.eye(3)], dim=1)[None]
    a = torch.cat([a, torch.zeros(1, 3, 3)], dim=2)
    assert ot_alignment(a, other, full, full).item() == pytest.approx(1.0, abs=1e-5)


def test_empty_sentences_are_masked_not_nan() -> None:
    torch.manual_seed(4)
    a = torch.randn(2, 4, 3, requires_grad=True)
    b = torch.randn(2, 5, 3, requires_grad=True)
    mask_a, mask_b = masks([3, 0], 4), masks([5, 2], 5)  # pair 1 has an empty side
    plan = sinkhorn_plan(token_cost(a, b), mask_a, mask_b)
    assert torch.isfinite(plan).all() and plan[1].abs().max() == 0
    loss = ot_alignment(a, b, mask_a, mask_b)
    alone = ot_alignment(a[:1], b[:1], mask_a[:1], mask_b[:1])
    assert loss.item() == pytest.approx(alone.item(), abs=1e-6)  # the empty pair is left out
    loss.backward()
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
    assert a.grad[1].abs().max() == 0  # nothing flows from the empty pair


def test_an_all_empty_batch_gives_zero_with_a_gradient_path() -> None:
    a = torch.randn(2, 3, 4, requires_grad=True)
    none = torch.zeros(2, 3, dtype=torch.bool)
    loss = ot_alignment(a, a, none, none)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(a.grad, torch.zeros_like(a))


@pytest.mark.parametrize("grad", ["detach", "autodiff", "last_step"])
def test_gradients_are_finite_in_every_mode(grad: str) -> None:
    torch.manual_seed(5)
    a = torch.randn(3, 4, 8, requires_grad=True)
    b = torch.randn(3, 6, 8, requires_grad=True)
    loss = ot_alignment(a, b, masks([4, 2, 3], 4), masks([6, 6, 1], 6), grad=grad)  # type: ignore[arg-type]
    loss.backward()
    assert torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0
    assert torch.isfinite(b.grad).all() and b.grad.abs().sum() > 0
    plan = sinkhorn_plan(token_cost(a, b), masks([4, 2, 3], 4), masks([6, 6, 1], 6), grad=grad)  # type: ignore[arg-type]
    assert plan.requires_grad == (grad != "detach")


def test_bad_settings_are_reported() -> None:
    cost, full = torch.rand(1, 2, 2), torch.ones(1, 2, dtype=torch.bool)
    with pytest.raises(ValueError, match="grad must be one of"):
        sinkhorn_plan(cost, full, full, grad="implicit")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        sinkhorn_plan(cost, full, full, epsilon=0.0)
