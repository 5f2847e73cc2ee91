"""Relational KD (CL2CM) and feature distance (NRF) against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from ccrkit.losses import feature_distance, relational_kd


def kl(p: list[float], q: list[float]) -> float:
    return sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q, strict=True))


def test_relational_kd_is_the_kl_of_known_distributions() -> None:
    # student relations S = I / 1: rows softmax([1, 0]) = [e, 1] / (e + 1); teacher T = 0: uniform
    eye, zeros = torch.eye(2), torch.zeros(2, 2)
    e = math.e
    row = kl([0.5, 0.5], [e / (e + 1), 1 / (e + 1)])
    assert row == pytest.approx(math.log(0.5) - 0.5 + math.log(e + 1), abs=1e-12)
    # S and T are symmetric, so the column direction gives the same value
    assert relational_kd(eye, eye, zeros, zeros, tau=1.0).item() == pytest.approx(row, abs=1e-6)


def test_relational_kd_rows_and_columns_on_an_asymmetric_case() -> None:
    # teacher x, y chosen so that T = x yᵀ = [[ln 3, 0], [0, 0]] at τ = 1: row 0 = [3/4, 1/4],
    # row 1 uniform; column 0 = [3/4, 1/4], column 1 uniform. Student S = 0: uniform everywhere.
    tx, ty = torch.tensor([[math.log(3), 0.0], [0.0, 0.0]]), torch.eye(2)
    zeros = torch.zeros(2, 2)
    rows = (kl([0.75, 0.25], [0.5, 0.5]) + 0.0) / 2
    cols = rows  # by construction
    assert relational_kd(zeros, zeros, tx, ty, tau=1.0).item() == pytest.approx(
        (rows + cols) / 2, abs=1e-6
    )
    # a teacher temperature of 2 halves the teacher logits: row 0 = softmax([ln 3 / 2, 0])
    p = [math.sqrt(3) / (math.sqrt(3) + 1), 1 / (math.sqrt(3) + 1)]
    assert relational_kd(zeros, zeros, tx, ty, tau=1.0, teacher_tau=2.0).item() == pytest.approx(
        kl(p, [0.5, 0.5]) / 2, abs=1e-6
    )
    # only the forward (row) direction: teacher T = [[ln 3, ln 3], [0, 0]] has uniform rows
    # (KL 0) but non-uniform columns
    tx2 = torch.tensor([[math.log(3), 0.0], [0.0, 0.0]])
    ty2 = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    forward = relational_kd(zeros, zeros, tx2, ty2, tau=1.0, both_directions=False)
    both = relational_kd(zeros, zeros, tx2, ty2, tau=1.0)
    assert forward.item() == pytest.approx(0.0, abs=1e-7)
    assert both.item() == pytest.approx(kl([0.75, 0.25], [0.5, 0.5]) / 2, abs=1e-6)


def test_relational_kd_vanishes_when_relations_agree_and_spares_the_teacher() -> None:
    torch.manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(4, 3), dim=1).requires_grad_()
    y = torch.nn.functional.normalize(torch.randn(4, 3), dim=1)
    teacher = x.detach().clone().requires_grad_()
    assert relational_kd(x, y, teacher, y).item() == pytest.approx(0.0, abs=1e-6)
    relational_kd(x * 0.5, y, teacher, y).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert teacher.grad is None  # detached


def test_feature_distance_hand_computed_with_weights() -> None:
    student = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], requires_grad=True)
    teacher = torch.tensor([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]], requires_grad=True)
    # squared distances: 2, 0, 0.4² + 0.8² = 0.8
    assert feature_distance(student, teacher).item() == pytest.approx(2.8 / 3, abs=1e-6)
    weighted = feature_distance(student, teacher, torch.tensor([True, False, True]))
    assert weighted.item() == pytest.approx(1.4, abs=1e-6)
    weighted.backward()
    assert teacher.grad is None and student.grad[1].abs().sum() == 0  # unselected row: no pull
    assert torch.allclose(student.grad[0], torch.tensor([1.0, -1.0]))  # 2 (s − t) / Σw


def test_feature_distance_with_nothing_selected_is_zero_and_finite() -> None:
    student = torch.randn(3, 2, requires_grad=True)
    loss = feature_distance(student, torch.randn(3, 2), torch.zeros(3, dtype=torch.bool))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(student.grad, torch.zeros(3, 2))
