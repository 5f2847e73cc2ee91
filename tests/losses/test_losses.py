"""Each loss against values computed by hand from its docstring formula."""

from __future__ import annotations

import math

import pytest
import torch

from ccrkit.losses import info_nce, triplet_max_violation


def test_info_nce_one_positive_per_row() -> None:
    eye = torch.eye(2)
    # logits = I / 1: each direction is -log(e / (e + 1)) = log(1 + 1/e)
    assert info_nce(eye, eye, 1.0).item() == pytest.approx(math.log(1 + math.exp(-1)), abs=1e-6)
    # tau = 0.5 doubles the logits: log(1 + e^-2)
    assert info_nce(eye, eye, 0.5).item() == pytest.approx(math.log(1 + math.exp(-2)), abs=1e-6)


def test_info_nce_multi_positive_labels() -> None:
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([7, 7, 3])  # rows 0 and 1 are captions of the same item
    # logits [[1,1,0],[1,1,0],[0,0,1]]; rows 0, 1: targets 1/2 on j = 0, 1 -> log(2e + 1) - 1;
    # row 2: log(2 + e) - 1; the matrix is symmetric so both directions agree.
    expected = (2 * (math.log(2 * math.e + 1) - 1) + math.log(2 + math.e) - 1) / 3
    assert info_nce(x, x, 1.0, labels).item() == pytest.approx(expected, abs=1e-6)


def test_info_nce_distinct_labels_equal_no_labels() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(5, 4), torch.randn(5, 4)
    plain = info_nce(x, y, 0.1)
    labelled = info_nce(x, y, 0.1, torch.tensor([4, 2, 0, 1, 3]))
    assert labelled.item() == pytest.approx(plain.item(), abs=1e-6)


def test_info_nce_is_symmetric_in_its_directions() -> None:
    torch.manual_seed(1)
    x, y = torch.randn(4, 3), torch.randn(4, 3)
    assert info_nce(x, y, 0.2).item() == pytest.approx(info_nce(y, x, 0.2).item(), abs=1e-6)


def test_info_nce_temperature_gets_a_gradient() -> None:
    log_t = torch.tensor(math.log(0.07), requires_grad=True)
    torch.manual_seed(2)
    info_nce(torch.randn(3, 2), torch.randn(3, 2), log_t.exp()).backward()
    assert log_t.grad is not None and log_t.grad.item() != 0.0


def test_triplet_hand_computed() -> None:
    scores = torch.tensor([[0.9, 0.5, 0.8], [0.1, 0.7, 0.3], [0.2, 0.6, 0.4]])
    # x = I and y = S^T give x y^T = S. Rows (x -> y): max(0, .1) + 0 + max(0, .4) = 0.5;
    # columns (y -> x): 0 + max(0, .1) + max(.6, .1) = 0.7; margin 0.2; summed: 1.2
    loss = triplet_max_violation(torch.eye(3), scores.T, margin=0.2)
    assert loss.item() == pytest.approx(1.2, abs=1e-6)


def test_triplet_counts_other_captions_of_the_item_as_negatives() -> None:
    same = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    # every S_ij = 1: each of the 4 hinge terms is the margin
    assert triplet_max_violation(same, same, margin=0.2).item() == pytest.approx(0.8, abs=1e-6)


def test_triplet_is_zero_when_every_margin_holds() -> None:
    eye = torch.eye(4)
    assert triplet_max_violation(eye, eye, margin=0.2).item() == 0.0
