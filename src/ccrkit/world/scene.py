"""Scenes: what is drawn. Sampled in families of near-duplicates (colours swapped between objects,
the picture turned half a turn or mirrored, events in the other order) so that many items share
every colour and shape, and only captions that read relations, places and temporal order tell
them apart."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ccrkit.world.concepts import (
    COLOURS,
    DIRECTIONS,
    POSITIONS,
    SHAPES,
    SIZES,
    TEXTURES,
    Event,
)

MIRROR_DIRECTION = {"left": "right", "right": "left", "up": "up", "down": "down"}
MOVE_DELTA = {"left": (-0.4, 0.0), "right": (0.4, 0.0), "up": (0.0, -0.4), "down": (0.0, 0.4)}


@dataclass(frozen=True)
class Obj:
    """One drawn object; (x, y) is its centre as a fraction of the picture, y pointing down."""

    shape: str
    colour: str
    size: str
    texture: str
    x: float
    y: float
    angle: float = 0.0


@dataclass(frozen=True)
class Scene:
    """An image (no events) or a video (events in temporal order, subjects index `objects`)."""

    objects: tuple[Obj, ...]
    background: int
    events: tuple[Event, ...] = ()
    family: int = -1  # the family of near-duplicates it was sampled in (its number in the split)


def relation(a: Obj, b: Obj) -> str | None:
    """Where `a` is relative to `b`, or None when neither axis clearly dominates."""
    dx, dy = a.x - b.x, a.y - b.y
    if abs(dx) > 1.5 * abs(dy):
        return "left_of" if dx < 0 else "right_of"
    if abs(dy) > 1.5 * abs(dx):
        return "above" if dy < 0 else "below"
    return None


def grid_cell(obj: Obj) -> str:
    """The cell of the picture's 3x3 grid that holds the object's centre (POSITIONS)."""
    column = min(2, int(obj.x * 3))
    row = min(2, int(obj.y * 3))
    return POSITIONS[3 * row + column]


def _object(rng: random.Random, x: float, y: float) -> Obj:
    return Obj(
        shape=rng.choice(SHAPES), colour=rng.choice(COLOURS), size=rng.choice(SIZES),
        texture=rng.choices(TEXTURES, weights=(2, 1, 1))[0],
        x=x + rng.uniform(-0.04, 0.04), y=y + rng.uniform(-0.04, 0.04),
        angle=rng.uniform(-12, 12),
    )  # fmt: skip


CELLS = [(0.22 + 0.28 * c, 0.22 + 0.28 * r) for r in range(3) for c in range(3)]


def _image_base(rng: random.Random, object_weights: Sequence[float]) -> Scene:
    """1..len(object_weights) objects (weighted) in distinct cells of a 3x3 grid; pairs sharing a
    row or a column are favoured so that most scenes have a clear relation to describe."""
    n = rng.choices(range(1, len(object_weights) + 1), weights=object_weights)[0]
    cells = CELLS
    first = rng.choice(cells)
    aligned = [c for c in cells if c != first and (c[0] == first[0] or c[1] == first[1])]
    others = [c for c in cells if c != first]
    chosen = [first, *rng.sample(aligned if rng.random() < 0.8 else others, n - 1)]
    objects = tuple(_object(rng, x, y) for x, y in chosen)
    colours = rng.sample(COLOURS, n)  # distinct colours inside one scene
    objects = tuple(replace(o, colour=c) for o, c in zip(objects, colours, strict=True))
    return Scene(objects, background=rng.randrange(1 << 30))


def _video_base(rng: random.Random) -> Scene:
    """1-2 objects; 1-2 events (moves, growth, colour change, appearance) in temporal order."""
    n = rng.choice((1, 2))
    objects = [_object(rng, 0.5, 0.5) for _ in range(n)]
    objects[-1] = replace(
        objects[-1], colour=rng.choice([c for c in COLOURS if c != objects[0].colour])
    )
    n_events = rng.choice((1, 2, 2))
    subjects = [0] * n_events if n == 1 or n_events == 1 else rng.choice(([0, 0], [0, 1]))
    events: list[Event] = []
    for subject in subjects:
        kinds = ["move", "grow", "shrink", "turn"]
        if subjects == [0, 1] and len(events) == 1:  # a second object may come into view
            kinds.append("appear")
        done = {e.kind for e in events if e.subject == subject}
        kind = rng.choice([k for k in kinds if k not in done])
        if kind == "move":
            arg = rng.choice(DIRECTIONS)
        elif kind == "turn":
            arg = rng.choice([c for c in COLOURS if c != objects[subject].colour])
        else:
            arg = None
        events.append(Event(subject, kind, arg))
    objects = _place_video_objects(rng, objects, events)
    return Scene(tuple(objects), background=rng.randrange(1 << 30), events=tuple(events))


def _place_video_objects(rng: random.Random, objects: list[Obj], events: list[Event]) -> list[Obj]:
    """Start positions that keep every move inside the picture and two objects apart."""
    placed = []
    for i, obj in enumerate(objects):
        dx = sum(MOVE_DELTA[e.arg or ""][0] for e in events if e.subject == i and e.kind == "move")
        dy = sum(MOVE_DELTA[e.arg or ""][1] for e in events if e.subject == i and e.kind == "move")
        x = 0.5 - dx / 2 + rng.uniform(-0.08, 0.08)
        y = (0.3 if i == 0 else 0.72) if len(objects) == 2 and dy == 0 else 0.5 - dy / 2
        if len(objects) == 2 and dy != 0:
            x = (0.27 if i == 0 else 0.73) + rng.uniform(-0.03, 0.03)
        placed.append(replace(obj, x=x, y=y + rng.uniform(-0.03, 0.03)))
    return placed


def _swap_colours(scene: Scene) -> Scene:
    if len(scene.objects) < 2:
        return replace(
            scene,
            objects=tuple(
                replace(o, size="big" if o.size == "small" else "small") for o in scene.objects
            ),
        )
    a, b, *rest = scene.objects
    swap = {a.colour: b.colour, b.colour: a.colour}
    events = tuple(  # a colour change follows the swap, so nothing turns into its own colour
        replace(e, arg=swap.get(e.arg or "", e.arg)) if e.kind == "turn" else e
        for e in scene.events
    )
    objects = (replace(a, colour=b.colour), replace(b, colour=a.colour), *rest)
    return replace(scene, objects=objects, events=events)


def _half_turn(scene: Scene, rng: random.Random) -> Scene:
    """An image turned half a turn about its centre: every object in the opposite cell, so every
    relation inverts (left of <-> right of, above <-> below). A lone object in the centre cell,
    which the turn would leave in place, moves to another cell instead."""
    objects = tuple(replace(o, x=1.0 - o.x, y=1.0 - o.y) for o in scene.objects)
    if len(objects) == 1 and grid_cell(objects[0]) == "centre":
        x, y = rng.choice([c for c in CELLS if c != (0.5, 0.5)])
        objects = (replace(objects[0], x=x + objects[0].x - 0.5, y=y + objects[0].y - 0.5),)
    return replace(scene, objects=objects)


def _mirror(scene: Scene) -> Scene:
    objects = tuple(replace(o, x=1.0 - o.x, angle=-o.angle) for o in scene.objects)
    events = tuple(
        replace(e, arg=MIRROR_DIRECTION[e.arg or ""]) if e.kind == "move" else e
        for e in scene.events
    )
    if not scene.events and len(objects) == 1:  # a lone object: move it instead
        objects = (replace(objects[0], y=1.0 - objects[0].y),)
    return replace(scene, objects=objects, events=events)


def _reverse_events(scene: Scene) -> Scene:
    if len(scene.events) < 2 or {e.kind for e in scene.events} & {"appear"}:
        return _swap_colours(scene)
    return replace(scene, events=tuple(reversed(scene.events)))


def sample_family(
    rng: random.Random,
    video: bool,
    size: int,
    max_objects: int = 3,
    object_weights: Sequence[float] = (1.0, 1.0, 1.0),
) -> list[Scene]:
    """A base scene and up to `size - 1` hard negatives that share its shapes and colours: for
    an image, turned half a turn, its colours swapped between objects, and both; for a video,
    mirrored, its events reversed, and mirrored with colours swapped. An image holds 1 to
    `max_objects` objects, in proportion to `object_weights`."""
    if video:
        base = _video_base(rng)
        variants = [base, _mirror(base), _reverse_events(base), _mirror(_swap_colours(base))]
    else:
        base = _image_base(rng, object_weights[:max_objects])
        turned = _half_turn(base, rng)
        variants = [base, turned, _swap_colours(base), _swap_colours(turned)]
    variants = variants[:size]
    return [replace(s, background=rng.randrange(1 << 30)) for s in variants]
