"""Caption frames: what one human caption chooses to say about a scene.

Every caption of every language is written from its own frame, sampled independently: which
objects it mentions, which of their attributes, the relation or just 'and', and for videos every
event in temporal order. The grammar of the language then turns the frame into words.
"""

from __future__ import annotations

import random

from ccrkit.world.concepts import INVERSE_RELATION, Event, Frame, Mention
from ccrkit.world.scene import Obj, Scene, relation

P_COLOUR, P_SIZE, P_TEXTURE = 0.9, 0.45, 0.6


def mention(obj: Obj, rng: random.Random, p_colour: float = P_COLOUR) -> Mention:
    """The shape always; colour, size and a non-plain texture each with their own probability."""
    return Mention(
        shape=obj.shape,
        colour=obj.colour if rng.random() < p_colour else None,
        size=obj.size if rng.random() < P_SIZE else None,
        texture=obj.texture if obj.texture != "plain" and rng.random() < P_TEXTURE else None,
    )


def image_frame(scene: Scene, rng: random.Random) -> Frame:
    """One object, two objects and how they relate (the usual case), or two objects joined by 'and'."""
    objects = scene.objects
    pairs = [(a, b) for a in objects for b in objects if a is not b and relation(a, b)]
    roll = rng.random()
    if pairs and roll < 0.7:
        a, b = rng.choice(pairs)
        rel = relation(a, b)
        if rng.random() < 0.5:  # describe it from the other object's side
            a, b, rel = b, a, INVERSE_RELATION[rel or ""]
        return Frame((mention(a, rng), mention(b, rng)), rel)
    if len(objects) > 1 and roll < 0.85:
        a, b = rng.sample(objects, 2)
        return Frame((mention(a, rng), mention(b, rng)))
    return Frame((mention(rng.choice(objects), rng, p_colour=1.0),))


def video_frame(scene: Scene, rng: random.Random) -> Frame:
    """Every event in temporal order; each acting object mentioned once, with its first colour."""
    order: list[int] = []
    for event in scene.events:
        if event.subject not in order:
            order.append(event.subject)
    objects = tuple(mention(scene.objects[i], rng) for i in order)
    events = tuple(Event(order.index(e.subject), e.kind, e.arg) for e in scene.events)
    return Frame(objects, None, events)


def caption_frame(scene: Scene, rng: random.Random) -> Frame:
    return video_frame(scene, rng) if scene.events else image_frame(scene, rng)
