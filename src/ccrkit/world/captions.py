"""Caption frames: what one human caption chooses to say about a scene.

Every caption of every language is written from its own frame, sampled independently: which
objects it mentions, which of their attributes (with the probabilities of `CaptionWorld`), the
relation or just 'and', for images an object's place and how many objects there are, and for
videos every event in temporal order. The grammar of the language then turns the frame into words.
"""

from __future__ import annotations

import random

from ccrkit.world.concepts import INVERSE_RELATION, Event, Frame, Mention
from ccrkit.world.config import CaptionWorld
from ccrkit.world.scene import Obj, Scene, grid_cell, relation

DEFAULT_STYLE = CaptionWorld()


def mention(
    obj: Obj,
    rng: random.Random,
    style: CaptionWorld,
    p_colour: float | None = None,
    placed: bool = False,
) -> Mention:
    """The shape always; colour, size, a non-plain texture and (when `placed`) the object's cell
    of the picture, each with its own probability."""
    p_colour = style.colour if p_colour is None else p_colour
    return Mention(
        shape=obj.shape,
        colour=obj.colour if rng.random() < p_colour else None,
        size=obj.size if rng.random() < style.size else None,
        texture=obj.texture if obj.texture != "plain" and rng.random() < style.texture else None,
        position=grid_cell(obj) if placed and rng.random() < style.position else None,
    )


def image_frame(scene: Scene, rng: random.Random, style: CaptionWorld = DEFAULT_STYLE) -> Frame:
    """Two objects and how they relate (the usual case), two objects joined by 'and' (each maybe
    with its place in the picture), or one object (with its colour, maybe its place and how many
    objects the picture holds)."""
    objects = scene.objects
    pairs = [(a, b) for a in objects for b in objects if a is not b and relation(a, b)]
    roll = rng.random()
    if pairs and roll < style.relation:
        a, b = rng.choice(pairs)
        rel = relation(a, b)
        if rng.random() < 0.5:  # describe it from the other object's side
            a, b, rel = b, a, INVERSE_RELATION[rel or ""]
        return Frame((mention(a, rng, style), mention(b, rng, style)), rel)
    if len(objects) > 1 and roll < style.relation + style.conjunction:
        a, b = rng.sample(objects, 2)
        return Frame((mention(a, rng, style, placed=True), mention(b, rng, style, placed=True)))
    one = mention(rng.choice(objects), rng, style, p_colour=1.0, placed=True)
    count = len(objects) if rng.random() < style.count else None
    return Frame((one,), count=count)


def video_frame(scene: Scene, rng: random.Random, style: CaptionWorld = DEFAULT_STYLE) -> Frame:
    """Every event in temporal order; each acting object mentioned once, with its first colour."""
    order: list[int] = []
    for event in scene.events:
        if event.subject not in order:
            order.append(event.subject)
    objects = tuple(mention(scene.objects[i], rng, style) for i in order)
    events = tuple(Event(order.index(e.subject), e.kind, e.arg) for e in scene.events)
    return Frame(objects, None, events)


def caption_frame(scene: Scene, rng: random.Random, style: CaptionWorld = DEFAULT_STYLE) -> Frame:
    return video_frame(scene, rng, style) if scene.events else image_frame(scene, rng, style)
