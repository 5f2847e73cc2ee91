"""The backbone's measuring tools: colour histograms, the linear probe, InfoNCE, the mirror test."""

from __future__ import annotations

import numpy as np
import torch

from ccrkit.world.backbone import info_nce, ngram_ids
from ccrkit.world.concepts import Frame, Mention
from ccrkit.world.features import colour_histogram, mirror_test, ridge_probe


def test_colour_histogram_counts_pixels_per_rgb_bin() -> None:
    pixels = torch.zeros(1, 3, 2, 2)
    pixels[0, 0, 0, 0] = 1.0  # one pure red pixel, three black ones
    hist = colour_histogram(pixels)[0]
    assert hist[0] == 0.75 and hist[3 * 16] == 0.25 and hist.sum() == 1.0


def test_ridge_probe_is_near_one_on_linear_targets_and_near_zero_on_noise() -> None:
    rng = np.random.default_rng(0)
    x_train, x_test = rng.normal(size=(400, 8)), rng.normal(size=(200, 8))
    w = rng.normal(size=(8, 2))
    assert ridge_probe(x_train, x_train @ w, x_test, x_test @ w) > 0.99
    assert ridge_probe(x_train, rng.normal(size=(400, 2)), x_test, rng.normal(size=(200, 2))) < 0.05


def test_info_nce_is_log_batch_size_for_orthogonal_guesses_and_small_when_aligned() -> None:
    a = torch.eye(4)
    assert abs(float(info_nce(a, torch.ones(4, 4), 1.0)) - float(np.log(4))) < 1e-6
    assert float(info_nce(a, a, 0.05)) < 1e-6


def test_mirror_test_compares_each_left_right_caption_with_its_twin() -> None:
    left = Frame((Mention("circle"), Mention("square")), "left_of")
    above = Frame((Mention("circle"), Mention("square")), "above")
    sim = np.array([[0.9, 0.1, 0, 0], [0.2, 0.8, 0, 0], [0.5, 0.1, 0, 0]])
    # queries 0 and 1 belong to items 0 and 0: the first beats twin 1, the second does not;
    # the 'above' caption is ignored (mirroring does not change it)
    result = mirror_test(sim, [left, left, above], np.array([0, 0, 0]), family_size=4)
    assert result == {"accuracy": 50.0, "captions": 2}


def test_ngram_ids_keep_word_order_information() -> None:
    assert ngram_ids("red circle left of blue square", 1 << 15) != ngram_ids(
        "blue circle left of red square", 1 << 15
    )
