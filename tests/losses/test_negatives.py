"""`negatives: mask_identical_text` (issue 19): identical caption texts in a batch leave the
negatives of the triplet and contrastive losses; hand-computed values on a batch with a duplicate."""

from __future__ import annotations

import math

import pytest
import torch

from ccrkit.losses import info_nce, one_to_k_nce, triplet_max_violation
from ccrkit.losses.negatives import identical_pairs, one_to_k_identical, text_keys

# rows 0 and 1 are the same caption text (so the same text embedding)
TEXTS = ["A red circle.", "A red circle.", "A blue star."]
X = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
Y = torch.tensor(
    [[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]
)  # S = X Yᵀ = [[1, .6, 0], [1, .6, 0], [0, .8, 1]]


def test_identical_pairs_from_texts() -> None:
    keys = text_keys(TEXTS)
    assert keys[0] == keys[1] != keys[2]
    assert identical_pairs(keys).tolist() == [[False, True, False], [True, False, False],
                                              [False, False, False]]  # fmt: skip
    other = text_keys(["x", "y", "y"])
    assert identical_pairs(keys, other).sum() == 4  # (0,1), (1,0), (1,2), (2,1)


def test_triplet_with_the_duplicate_masked() -> None:
    exclude = identical_pairs(text_keys(TEXTS))
    # all negatives: rows 0, 0.6, 0 (row 1's hardest negative is row 0's image at 1.0);
    # columns 0.2, 0.4, 0 -> 1.2
    assert triplet_max_violation(X, Y, 0.2).item() == pytest.approx(1.2)
    # masked: row 1 only has image 2 as a negative (cost 0); column 0 only text 2 (0);
    # column 1 keeps text 2 (0.2 + 0.8 − 0.6 = 0.4) -> 0.4
    assert triplet_max_violation(X, Y, 0.2, exclude).item() == pytest.approx(0.4)


def test_info_nce_with_the_duplicate_masked() -> None:
    exclude = identical_pairs(text_keys(TEXTS))
    log1p_exp = lambda z: math.log1p(math.exp(z))  # noqa: E731
    x_to_y = [log1p_exp(-1.0), log1p_exp(-0.6), math.log(1 + math.exp(0.8) + math.e) - 1]
    y_to_x = [log1p_exp(-1.0), log1p_exp(0.2), math.log(2 + math.e) - 1]
    expected = (sum(x_to_y) / 3 + sum(y_to_x) / 3) / 2  # 0.53265
    assert info_nce(X, Y, 1.0, exclude=exclude).item() == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(0.53265, abs=1e-5)
    # nothing excluded: the plain loss; multi-positive labels keep positives positive
    assert info_nce(X, Y, 1.0, exclude=torch.zeros(3, 3, dtype=torch.bool)).item() == pytest.approx(
        info_nce(X, Y, 1.0).item()
    )
    same_item = torch.tensor([0, 0, 1])
    assert info_nce(X, Y, 1.0, same_item, exclude).item() == pytest.approx(
        info_nce(X, Y, 1.0, same_item).item()
    )


def test_one_to_k_mask_and_loss() -> None:
    keys = torch.stack([text_keys(TEXTS), text_keys(["ein kreis", "ein roter kreis", "stern"])], 1)
    exclude = one_to_k_identical(keys)
    # image 0 against texts (1, 0) = "A red circle." (one of its own views) -> masked; image 1
    # against (0, 0) likewise; nothing else is identical
    assert exclude.nonzero().tolist() == [[0, 2], [1, 0]]
    text = torch.nn.functional.normalize(
        torch.randn(3, 2, 4, generator=torch.Generator().manual_seed(0)), dim=-1
    )
    visual = torch.nn.functional.normalize(
        torch.randn(3, 4, generator=torch.Generator().manual_seed(1)), dim=-1
    )
    masked = one_to_k_nce(visual, text, 0.1, exclude=exclude)
    # by hand: the i2t softmax of image 0 loses column 2, of image 1 column 0; t2i rows 0 and 2
    # lose image 1 and image 0 respectively
    logits = visual @ text.reshape(6, -1).T / 0.1
    i2t = logits.clone()
    i2t[0, 2] = i2t[1, 0] = float("-inf")
    own = [[0, 1], [2, 3], [4, 5]]
    loss_i2t = -sum(torch.log_softmax(i2t[i], 0)[own[i]].sum() for i in range(3)) / 3
    t2i = logits.T.clone()
    t2i[2, 0] = t2i[0, 1] = float("-inf")
    loss_t2i = -sum(torch.log_softmax(t2i[c], 0)[c // 2] for c in range(6)) / 6
    assert masked.item() == pytest.approx(((loss_i2t + loss_t2i) / 4).item(), abs=1e-5)
