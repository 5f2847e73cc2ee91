"""The backbone's measuring tools: colour histograms, the linear probe, the mirror test, and the
throwaway caption encoder that world-clip is pretrained against."""

from __future__ import annotations

import numpy as np
import torch

from ccrkit.world.clip import CaptionEncoder
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


def test_mirror_test_compares_each_left_right_caption_with_its_twin() -> None:
    left = Frame((Mention("circle"), Mention("square")), "left_of")
    above = Frame((Mention("circle"), Mention("square")), "above")
    sim = np.array([[0.9, 0.1, 0, 0], [0.2, 0.8, 0, 0], [0.5, 0.1, 0, 0]])
    # queries 0 and 1 belong to items 0 and 0: the first beats twin 1, the second does not;
    # the 'above' caption is ignored (mirroring does not change it)
    result = mirror_test(sim, [left, left, above], np.array([0, 0, 0]), family_size=4)
    assert result == {"accuracy": 50.0, "captions": 2}


def test_caption_encoder_reads_word_order_and_maps_unknown_words_to_one_id() -> None:
    """A bag of words cannot tell which object is left of which; the GRU can."""
    torch.manual_seed(0)
    text = CaptionEncoder(["a", "red", "blue", "circle", "square", "left", "of"], dim=8, width=8)
    ids = text.token_ids(["A red circle left of a blue square.", "Zebra!"])
    assert ids.tolist() == [[2, 3, 5, 7, 8, 2, 4, 6], [1, 0, 0, 0, 0, 0, 0, 0]]
    with torch.no_grad():
        one, two = text(["red circle left of blue square", "blue circle left of red square"])
    assert not torch.allclose(one, two)
