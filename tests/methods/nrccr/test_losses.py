"""NRCCR's loss terms against their formulas (methods.md §1.2), computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from ccrkit.losses import (
    adversarial_language,
    smooth_l1_feature,
    soft_target_distill,
    triplet_max_violation,
)


def test_triplet_matches_the_formula_term_by_term() -> None:
    """§1.2 A: Σ_i max_{j≠i}[m + S_ij − S_ii]_+ + Σ_j max_{i≠j}[m + S_ij − S_jj]_+ (sum, not mean)."""
    torch.manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(5, 4), dim=1)
    y = torch.nn.functional.normalize(torch.randn(5, 4), dim=1)
    s, m, n = (x @ y.T).tolist(), 0.2, 5
    rows = sum(max(max(0.0, m + s[i][j] - s[i][i]) for j in range(n) if j != i) for i in range(n))
    cols = sum(max(max(0.0, m + s[i][j] - s[j][j]) for i in range(n) if i != j) for j in range(n))
    assert triplet_max_violation(x, y, m).item() == pytest.approx(rows + cols, abs=1e-5)
    # summed over the batch: two copies of the batch side by side do not average it away
    assert triplet_max_violation(x, y, m).item() > 1.0


def test_triplet_takes_only_the_hardest_negative() -> None:
    # x = I gives S = yᵀ = [[.5, .45, .35], [0, .5, 0], [0, 0, .5]]: row 0 violates by .15 and .05,
    # only .15 counts (summing every violation would give .20)
    x = torch.eye(3)
    y = torch.tensor([[0.5, 0.0, 0.0], [0.45, 0.5, 0.0], [0.35, 0.0, 0.5]])
    # rows: .15 + 0 + 0; columns: col 0 → 0, col 1 → .15, col 2 → .05; total .35 (not .40)
    assert triplet_max_violation(x, y, 0.2).item() == pytest.approx(0.35, abs=1e-6)


def test_soft_target_distill_hand_computed() -> None:
    """v = teacher = I, student = the swapped identity: every row's cross-entropy is
    log(1 + e^{2}) − 2/(1 + e^{2}) at τ = 0.5 (logits doubled), in both directions."""
    eye, swapped = torch.eye(2), torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    expected = math.log(1 + math.e**2) - 2 / (1 + math.e**2)
    loss = soft_target_distill(swapped, eye, eye, tau=0.5)
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    tau1 = math.log(1 + math.e) - 1 / (1 + math.e)
    assert soft_target_distill(swapped, eye, eye, tau=1.0).item() == pytest.approx(tau1, abs=1e-6)


def test_soft_target_distill_is_both_directions_and_detaches_the_teacher() -> None:
    torch.manual_seed(1)
    student = torch.randn(4, 3, requires_grad=True)
    teacher = torch.randn(4, 3, requires_grad=True)
    visual = torch.randn(4, 3, requires_grad=True)
    loss = soft_target_distill(student, teacher, visual, tau=0.07)
    t = teacher.detach()
    v2t = -(torch.softmax(visual @ t.T / 0.07, 1) * torch.log_softmax(visual @ student.T / 0.07, 1))
    t2v = -(torch.softmax(t @ visual.T / 0.07, 1) * torch.log_softmax(student @ visual.T / 0.07, 1))
    expected = (v2t.sum(1).mean() + t2v.sum(1).mean()) / 2
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    assert teacher.grad is None and student.grad is not None and visual.grad is not None
    # teacher == student: the loss is the entropy of the teacher's distributions, gradient 0 at it
    same = torch.randn(3, 2, requires_grad=True)
    soft_target_distill(same, same.detach(), torch.randn(3, 2), tau=1.0).backward()
    assert same.grad.abs().max().item() < 1e-6


def test_smooth_l1_feature_both_branches() -> None:
    """β = 4: |d| = 1 < β gives ½·1/4 = 0.125; |d| = 5 ≥ β gives 5 − 2 = 3; mean = 1.5625."""
    student = torch.tensor([[1.0, 5.0]])
    teacher = torch.zeros(1, 2)
    assert smooth_l1_feature(student, teacher, beta=4.0).item() == pytest.approx(1.5625)
    # on unit vectors every |d| <= 2 < 4: the loss is mean(d²) / 8
    a, b = torch.tensor([[0.6, 0.8]]), torch.tensor([[1.0, 0.0]])
    assert smooth_l1_feature(a, b).item() == pytest.approx((0.4**2 + 0.8**2) / 2 / 8, abs=1e-7)


def test_smooth_l1_feature_teacher_gradient_switch() -> None:
    student = torch.tensor([[0.6, 0.8]], requires_grad=True)
    teacher = torch.tensor([[1.0, 0.0]], requires_grad=True)
    smooth_l1_feature(student, teacher).backward()
    assert teacher.grad is None and student.grad is not None
    smooth_l1_feature(student, teacher, detach_teacher=False).backward()
    assert teacher.grad is not None
    assert torch.allclose(teacher.grad, -student.grad / 2)  # the second call alone: equal, opposite


def test_adversarial_language_hand_computed() -> None:
    """BCE on every logit with the same label: BCE(z, 1) = log(1 + e^−z), BCE(z, 0) = log(1 + e^z)."""
    source = torch.tensor([[2.0, -1.0]])
    target = torch.tensor([[0.5, 1.0]])

    def softplus(z: float) -> float:
        return math.log(1 + math.exp(z))

    discriminator = ((softplus(-2.0) + softplus(1.0)) / 2 + (softplus(0.5) + softplus(1.0)) / 2) / 2
    encoder = (softplus(-0.5) + softplus(-1.0)) / 2
    assert adversarial_language(target, source, "discriminator").item() == pytest.approx(
        discriminator, abs=1e-6
    )
    assert adversarial_language(target, player="encoder").item() == pytest.approx(encoder, abs=1e-6)


def test_adversarial_language_bad_calls() -> None:
    with pytest.raises(ValueError, match="source logits"):
        adversarial_language(torch.zeros(1, 2))
    with pytest.raises(ValueError, match="discriminator, encoder"):
        adversarial_language(torch.zeros(1, 2), torch.zeros(1, 2), "judge")  # type: ignore[arg-type]
