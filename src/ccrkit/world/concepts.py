"""The closed world every language talks about: shapes, colours, sizes, textures, relations, events.

A scene (what is drawn) and a caption frame (what one caption says about it) are both built from
these concept names; every language module renders the same concept names in its own words, so a
frame is the language-independent meaning of a caption.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

SHAPES = ("circle", "square", "triangle", "star", "cross", "diamond")
COLOURS = ("red", "green", "blue", "yellow", "purple", "orange")
SIZES = ("small", "big")
TEXTURES = ("plain", "striped", "dotted")
RELATIONS = ("left_of", "right_of", "above", "below")
DIRECTIONS = ("left", "right", "up", "down")
POSITIONS = (  # the cells of a 3x3 grid over the picture, row by row from the top
    "top_left", "top", "top_right", "left", "centre", "right", "bottom_left", "bottom",
    "bottom_right",
)  # fmt: skip
EVENT_KINDS = ("move", "grow", "shrink", "turn", "appear")
INVERSE_RELATION = {
    "left_of": "right_of",
    "right_of": "left_of",
    "above": "below",
    "below": "above",
}


@dataclass(frozen=True, repr=False)
class Mention:
    """An object as one caption mentions it: the shape always, other attributes when said."""

    shape: str
    colour: str | None = None
    size: str | None = None
    texture: str | None = None  # only "striped" or "dotted" are ever said
    position: str | None = None  # a cell of the picture's 3x3 grid (POSITIONS), images only

    def __repr__(self) -> str:  # also the MT's seed material: plain and fast
        return f"Mention({self.shape!r}, {self.colour!r}, {self.size!r}, {self.texture!r}, {self.position!r})"


@dataclass(frozen=True, repr=False)
class Event:
    """Something that happens to mentioned object `subject` in a video; `arg` is a direction or colour."""

    subject: int
    kind: str
    arg: str | None = None

    def __repr__(self) -> str:
        return f"Event({self.subject!r}, {self.kind!r}, {self.arg!r})"


@dataclass(frozen=True, repr=False)
class Frame:
    """What one caption says: 1-2 objects, optionally how the first relates to the second, and
    for videos the events in temporal order. `relation` None with two objects means "X and Y"."""

    objects: tuple[Mention, ...]
    relation: str | None = None
    events: tuple[Event, ...] = ()
    count: int | None = None  # how many objects the picture holds, when the caption says it

    def __repr__(self) -> str:
        return f"Frame({self.objects!r}, {self.relation!r}, {self.events!r}, {self.count!r})"

    def to_json(self) -> dict[str, Any]:
        data = {
            "objects": [_compact(vars(m)) for m in self.objects],
            "relation": self.relation,
            "events": [_compact(vars(e)) for e in self.events],
        }
        return data if self.count is None else {**data, "count": self.count}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Frame:
        return cls(
            objects=tuple(Mention(**m) for m in data["objects"]),
            relation=data.get("relation"),
            events=tuple(Event(**e) for e in data.get("events", ())),
            count=data.get("count"),
        )

    def with_object(self, index: int, **changes: str | None) -> Frame:
        objects = list(self.objects)
        objects[index] = replace(objects[index], **changes)
        return replace(self, objects=tuple(objects))


def _compact(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}
