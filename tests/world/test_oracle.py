"""The oracle on hand-built scenes and captions, with its figures computed by hand."""

from __future__ import annotations

import math
import random

import pytest

from ccrkit.world.captions import caption_frame
from ccrkit.world.concepts import Event, Frame, Mention
from ccrkit.world.oracle import (
    _miss_all,
    colour_shape_only,
    match_sets,
    oracle_metrics,
    satisfies,
    sibling_share,
)
from ccrkit.world.scene import Obj, Scene, grid_cell, relation, sample_family


def obj(
    shape: str, colour: str, x: float, y: float, size: str = "small", texture: str = "plain"
) -> Obj:
    return Obj(shape, colour, size, texture, x, y)


SCENES = [
    # 0: a red circle top left, to the left of a blue striped square top right
    Scene(
        (obj("circle", "red", 0.22, 0.22), obj("square", "blue", 0.78, 0.22, "big", "striped")),
        0,
        family=0,
    ),
    # 1: the same turned half a turn: the circle is now right of the square, both at the bottom
    Scene(
        (obj("circle", "red", 0.78, 0.78), obj("square", "blue", 0.22, 0.78, "big", "striped")),
        1,
        family=0,
    ),
    # 2: a lone big dotted green star in the centre
    Scene((obj("star", "green", 0.5, 0.5, "big", "dotted"),), 2, family=1),
    # 3: a big red circle at the top, above a yellow triangle at the bottom
    Scene(
        (obj("circle", "red", 0.5, 0.22, "big"), obj("triangle", "yellow", 0.5, 0.78)), 3, family=2
    ),
]
CAPTIONS = [  # (frame, item it was written for, its match set by hand)
    (Frame((Mention("circle", "red"), Mention("square", "blue")), "left_of"), 0, [0]),
    (Frame((Mention("circle", "red"), Mention("square", "blue"))), 0, [0, 1]),
    (Frame((Mention("circle", "red", "small"),)), 1, [0, 1]),
    (Frame((Mention("star"),), count=1), 2, [2]),
    (Frame((Mention("circle", "red"),)), 3, [0, 1, 3]),
    (Frame((Mention("circle", position="top"), Mention("triangle"))), 3, [3]),
    (Frame((Mention("triangle", "yellow"), Mention("circle")), "below"), 3, [3]),
]


def test_match_sets_follow_every_said_attribute_relation_position_and_count() -> None:
    frames = [frame for frame, _, _ in CAPTIONS]
    assert match_sets(SCENES, frames) == [expected for _, _, expected in CAPTIONS]
    assert (
        grid_cell(SCENES[0].objects[0]) == "top_left"
        and grid_cell(SCENES[2].objects[0]) == "centre"
    )
    assert relation(SCENES[3].objects[1], SCENES[3].objects[0]) == "below"
    two_circles = Frame((Mention("circle"), Mention("circle")))  # two distinct objects needed
    assert not any(satisfies(scene, two_circles) for scene in SCENES)
    assert not satisfies(SCENES[2], Frame((Mention("star"),), count=2))
    assert not satisfies(SCENES[0], Frame((Mention("circle", texture="striped"),)))


def test_oracle_figures_by_hand() -> None:
    frames = [frame for frame, _, _ in CAPTIONS]
    owners = [owner for _, owner, _ in CAPTIONS]
    metrics = oracle_metrics(match_sets(SCENES, frames), owners)
    # t2v: match sets of 1, 2, 2, 1, 3, 1, 1 -> R@1 = mean(1, 1/2, 1/2, 1, 1/3, 1, 1) = 16/21
    assert metrics["t2v_r1"] == round(100 * 16 / 21, 2) == 76.19
    assert metrics["t2v_r5"] == metrics["t2v_r10"] == 100.0
    assert metrics["t2v_mean_rank"] == round(9 / 7, 2)  # mean of (m + 1) / 2
    # v2t: item 0 is matched by 4 captions, 2 its own -> R@1 1/2; item 1 by 3, 1 its own -> 1/3;
    # items 2 and 3 only by their own -> 1. R@5: every item's own captions are within 5.
    assert metrics["v2t_r1"] == round(100 * (1 / 2 + 1 / 3 + 1 + 1) / 4, 2) == 70.83
    assert metrics["v2t_r5"] == metrics["v2t_r10"] == 100.0
    assert metrics["sumr"] == pytest.approx(76.19 + 70.83 + 400)
    assert metrics["median_match_set"] == 1 and metrics["unique_match_share"] == round(400 / 7, 2)
    assert sibling_share(SCENES, match_sets(SCENES, frames), owners) == round(200 / 7, 2)


def test_v2t_hit_chance_is_the_hypergeometric_one() -> None:
    for n, g, k in [(10, 2, 1), (10, 2, 5), (40, 5, 10), (7, 7, 1), (3, 1, 5)]:
        expected = math.comb(n - g, k) / math.comb(n, k) if n - g >= k else 0.0
        assert _miss_all(n, g, k) == pytest.approx(expected)


def test_a_caption_that_misses_its_own_scene_is_an_error() -> None:
    with pytest.raises(ValueError, match="does not match its own scene"):
        oracle_metrics([[1]], [0])


def test_videos_need_the_events_in_order_with_their_arguments_and_subjects() -> None:
    circle, square = obj("circle", "red", 0.5, 0.3), obj("square", "green", 0.5, 0.7)
    move_then_turn = Scene((circle,), 0, (Event(0, "move", "left"), Event(0, "turn", "blue")))
    turn_then_move = Scene((circle,), 1, (Event(0, "turn", "blue"), Event(0, "move", "left")))
    said = Frame(
        (Mention("circle", "red"),), None, (Event(0, "move", "left"), Event(0, "turn", "blue"))
    )
    assert satisfies(move_then_turn, said) and not satisfies(turn_then_move, said)
    wrong_way = Frame(
        (Mention("circle"),), None, (Event(0, "move", "right"), Event(0, "turn", "blue"))
    )
    assert not satisfies(move_then_turn, wrong_way)
    grow_then_appear = Scene((circle, square), 2, (Event(0, "grow"), Event(1, "appear")))
    square_first = Frame(
        (Mention("square"), Mention("circle")), None, (Event(1, "grow"), Event(0, "appear"))
    )
    assert satisfies(grow_then_appear, square_first)  # mentions map to objects in any order
    swapped = Frame(
        (Mention("square"), Mention("circle")), None, (Event(0, "grow"), Event(1, "appear"))
    )
    assert not satisfies(grow_then_appear, swapped)


def test_every_caption_fits_its_own_scene_and_relations_rule_out_the_turned_sibling() -> None:
    rng = random.Random(5)
    for _ in range(60):
        family = sample_family(rng, False, 4)
        for _ in range(5):
            frame = caption_frame(family[0], rng)
            assert satisfies(family[0], frame)
            assert satisfies(family[0], colour_shape_only(frame))
            if frame.relation:  # half a turn inverts every relation
                assert not satisfies(family[1], frame)
    for _ in range(30):
        video = sample_family(rng, True, 4)[0]
        assert satisfies(video, caption_frame(video, rng))
