"""`one_to_k_nce` against a value computed by hand from its formula, and its K = 1 reduction."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ccrkit.losses import info_nce, one_to_k_nce

E = math.e


def test_hand_computed_two_items_two_views() -> None:
    visual = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor(
        [
            [[1.0, 0.0], [1.0, 0.0]],  # item 0: both views along v0
            [[0.0, 1.0], [1.0, 0.0]],
        ]
    )  # item 1: one view along v1, one along v0
    # texts (image-major) t00, t01, t10, t11 = e0, e0, e1, e0; tau = 1
    # v0 logits [1, 1, 0, 1]: positives t00, t01 -> 2 * (1 - log(3e + 1))
    # v1 logits [0, 0, 1, 0]: positives t10, t11 -> (1 - log(e + 3)) + (0 - log(e + 3))
    i2t = -((2 - 2 * math.log(3 * E + 1)) + (1 - 2 * math.log(E + 3))) / 2
    # every text: a 2-way softmax over (v0, v1); t00, t01 and t10 score 1 on their own image and
    # 0 on the other: log(1 + 1/e); t11 scores 1 on v0 but belongs to v1: log(1 + e)
    t2i = (3 * math.log(1 + 1 / E) + math.log(1 + E)) / 4
    expected = (i2t + t2i) / (2 * 2)
    assert one_to_k_nce(visual, text, 1.0).item() == pytest.approx(expected, abs=1e-6)
    # the temperature divides the logits: tau = 0.5 equals doubled embeddings on one side
    assert one_to_k_nce(visual, text, 0.5).item() == pytest.approx(
        one_to_k_nce(2 * visual, text, 1.0).item(), abs=1e-6
    )


def test_k_equal_one_is_info_nce() -> None:
    torch.manual_seed(0)
    visual = torch.nn.functional.normalize(torch.randn(6, 5), dim=1)
    text = torch.nn.functional.normalize(torch.randn(6, 1, 5), dim=2)
    assert one_to_k_nce(visual, text, 0.07).item() == pytest.approx(
        info_nce(text[:, 0], visual, 0.07).item(), rel=1e-6
    )
    labels = torch.tensor([3, 1, 3, 0, 2, 1])  # repeated items: multi-positive soft targets
    assert one_to_k_nce(visual, text, 0.07, labels).item() == pytest.approx(
        info_nce(text[:, 0], visual, 0.07, labels).item(), rel=1e-6
    )


def test_distinct_labels_equal_no_labels() -> None:
    torch.manual_seed(1)
    visual, text = torch.randn(4, 3), torch.randn(4, 3, 3)
    plain = one_to_k_nce(visual, text, 0.2)
    assert one_to_k_nce(visual, text, 0.2, torch.tensor([9, 4, 7, 0])).item() == pytest.approx(
        plain.item(), rel=1e-6
    )


def test_views_of_a_repeated_item_are_positives() -> None:
    # two examples of the same item (same visual e0), K = 2: views [e0, e1] and [e0, e0]
    visual = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    text = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]]])
    # each image: logits [1, 0, 1, 1], Z = 3e + 1; all four texts positive with target K/4 = 1/2
    i2t = -0.5 * (3 * (1 - math.log(3 * E + 1)) + (0 - math.log(3 * E + 1)))
    t2i = math.log(2)  # every text: two identical images, targets 1/2 each
    expected = (i2t + t2i) / 4
    labels = torch.tensor([5, 5])
    assert one_to_k_nce(visual, text, 1.0, labels).item() == pytest.approx(expected, abs=1e-6)


def test_the_k_positives_share_one_softmax() -> None:
    # one image, K = 3 identical views, no negatives: each view gets probability 1/3 in the shared
    # i2t softmax (-log 1/3 each, summed over k), the 1-way t2i softmax costs nothing
    visual = torch.tensor([[1.0, 0.0]])
    text = torch.tensor([[[1.0, 0.0]] * 3])
    assert one_to_k_nce(visual, text, 1.0).item() == pytest.approx(
        3 * math.log(3) / (2 * 3), abs=1e-6
    )


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match=r"visual \(B, D\) and text \(B, K, D\)"):
        one_to_k_nce(torch.randn(2, 3), torch.randn(2, 3), 1.0)


def test_repeats_with_equal_visual_rows_give_the_same_loss_either_way() -> None:
    """Two examples of one item with the same visual input: labels (positives) and no labels
    (the official code's negatives) agree; with different visual rows they do not."""
    torch.manual_seed(3)
    labels = torch.tensor([0, 1, 2, 0])
    visual = F.normalize(torch.randn(4, 8), dim=-1)
    text = F.normalize(torch.randn(4, 3, 8), dim=-1)
    visual[3] = visual[0]
    assert torch.allclose(one_to_k_nce(visual, text, 0.1, labels), one_to_k_nce(visual, text, 0.1))
    visual[3] = F.normalize(torch.randn(8), dim=-1)
    assert not torch.allclose(
        one_to_k_nce(visual, text, 0.1, labels), one_to_k_nce(visual, text, 0.1)
    )
