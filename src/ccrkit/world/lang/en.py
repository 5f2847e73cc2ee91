"""English: the source language of every collection (adjectives before the noun, a/an)."""

from __future__ import annotations

from ccrkit.world.concepts import Event, Frame, Mention
from ccrkit.world.lang.base import Chooser, Tok, counted, mt_memo, phrase, pick, toks

CODE, SPACED = "en", True

SHAPE = {
    "circle": ("circle", "disc"), "square": ("square",), "triangle": ("triangle",),
    "star": ("star",), "cross": ("cross",), "diamond": ("diamond", "rhombus"),
}  # fmt: skip
COLOUR = {c: (c,) for c in ("red", "green", "blue", "yellow", "purple", "orange")}
SIZE = {"small": ("small", "little"), "big": ("big", "large")}
TEXTURE = {"striped": ("striped", "stripy"), "dotted": ("dotted", "spotted")}
TEXTURE_WITH = {"striped": "with stripes", "dotted": "with dots"}
RELATION = {
    "left_of": ("to the left of", "left of"), "right_of": ("to the right of", "right of"),
    "above": ("above", "over"), "below": ("below", "under", "beneath"),
}  # fmt: skip
POSITION = {  # a cell of the picture's 3x3 grid
    "top_left": ("in the top left corner", "at the top left", "in the upper left corner"),
    "top": ("at the top", "near the top"),
    "top_right": ("in the top right corner", "at the top right", "in the upper right corner"),
    "left": ("on the left", "at the left side"),
    "centre": ("in the centre", "in the middle"),
    "right": ("on the right", "at the right side"),
    "bottom_left": ("in the bottom left corner", "at the bottom left", "in the lower left corner"),
    "bottom": ("at the bottom", "near the bottom"),
    "bottom_right": (
        "in the bottom right corner",
        "at the bottom right",
        "in the lower right corner",
    ),
}
OTHERS = {  # other objects of a one-object caption's picture ('#': the number word)
    2: ("and #one other shape", "and #another shape"), 3: ("and #two other shapes", "and #two more shapes"),
}  # fmt: skip
ONLY = ("only", "just")
DIRECTION = {"left": "left", "right": "right", "up": "up", "down": "down"}
MOVE = ("moves", "slides", "goes")
GROW = ("grows", "gets bigger", "becomes larger")
SHRINK = ("shrinks", "gets smaller")
TURN = ("turns", "becomes", "changes to")
APPEAR = ("appears", "shows up")

# The English word of every concept: what an MT system leaves untranslated.
WORDS = {
    **{f"shape:{k}": v[0] for k, v in SHAPE.items()},
    **{f"colour:{k}": v[0] for k, v in COLOUR.items()},
    **{f"size:{k}": v[0] for k, v in SIZE.items()},
    **{f"texture:{k}": v[0] for k, v in TEXTURE.items()},
    **{f"rel:{k}": v[0].split()[-2] if k.endswith("_of") else v[0] for k, v in RELATION.items()},
    **{f"dir:{k}": v for k, v in DIRECTION.items()},
    **{f"pos:{k}": k.replace("_", "-") for k in POSITION},
    "event:move": "moves", "event:grow": "grows", "event:shrink": "shrinks",
    "event:turn": "turns", "event:appear": "appears", "count:1": "only", "count:2": "one",
    "count:3": "two",
}  # fmt: skip
# Wrong senses an xx->en MT picks for the target word of a concept.
WRONG_SENSE = {
    "shape:square": "place", "shape:star": "celebrity", "shape:cross": "angry",
    "shape:diamond": "gem", "colour:orange": "orange fruit", "event:turn": "rotates",
    "rel:left_of": "remaining", "event:move": "moves house",
}  # fmt: skip
FILLERS = ("very", "also", "shiny", "old", "nice")


@mt_memo
def noun_phrase(m: Mention, rng: Chooser, det: str = "a") -> list[Tok]:
    """'a small striped red circle' or 'a red circle with stripes'."""
    rng = phrase(rng, m)
    words = [Tok(det, bad_agreement="an")]
    if m.size:
        words.append(Tok(pick(rng, SIZE[m.size]), f"size:{m.size}"))
    with_phrase = m.texture is not None and pick(rng, (False, True))
    if m.texture and not with_phrase:
        words.append(Tok(pick(rng, TEXTURE[m.texture]), f"texture:{m.texture}"))
    if m.colour:
        words.append(Tok(pick(rng, COLOUR[m.colour]), f"colour:{m.colour}"))
    words.append(Tok(pick(rng, SHAPE[m.shape]), f"shape:{m.shape}"))
    if m.texture and with_phrase:
        words += toks(TEXTURE_WITH[m.texture], f"texture:{m.texture}")
    if m.position:
        words += toks(pick(rng, POSITION[m.position]), f"pos:{m.position}")
    return _a_an(words)


@mt_memo
def count_words(count: int | None, rng: Chooser) -> tuple[list[Tok], list[Tok]]:
    """'only' before a one-object caption's noun phrase, or 'and two other shapes' after it."""
    return counted(count, rng, ONLY, OTHERS)


def _a_an(words: list[Tok]) -> list[Tok]:
    if words[0].text == "a" and len(words) > 1 and words[1].text[:1] in "aeiou":
        return [Tok("an", bad_agreement="a"), *words[1:]]
    return words


def render(frame: Frame, rng: Chooser) -> list[Tok]:
    body = _video(frame, rng) if frame.events else _image(frame, rng)
    return [*body, Tok(".")]


def _image(frame: Frame, rng: Chooser) -> list[Tok]:
    if len(frame.objects) == 1:
        before, after = count_words(frame.count, rng)
        lead = toks("there is") if pick(rng, ("plain", "there is")) == "there is" else []
        return [*lead, *before, *noun_phrase(frame.objects[0], rng), *after]
    first = noun_phrase(frame.objects[0], rng)
    second = noun_phrase(frame.objects[1], rng)
    if frame.relation is None:
        lead = pick(rng, ([], toks("there are")))
        return [*lead, *first, Tok("and"), *second]
    rel = toks(pick(rng, RELATION[frame.relation]), f"rel:{frame.relation}")
    template = pick(rng, ("plain", "is", "there", "fronted"))
    if template == "is":
        return [*first, Tok("is"), *rel, *second]
    if template == "there":
        return [*toks("there is"), *first, *rel, *second]
    if template == "fronted":
        return [*rel, *second, Tok("is"), *first]
    return [*first, *rel, *second]


def _video(frame: Frame, rng: Chooser) -> list[Tok]:
    words: list[Tok] = []
    said: set[int] = set()
    first_word = pick(rng, ("", "first")) if len(frame.events) > 1 else ""
    for i, event in enumerate(frame.events):
        if i > 0:
            words += toks(pick(rng, (", then", "and then", ", and after that")))
        elif first_word:
            words.append(Tok(first_word))
        subject = (
            [Tok("it")] if event.subject in said else noun_phrase(frame.objects[event.subject], rng)
        )
        said.add(event.subject)
        words += [*subject, *_event(event, rng)]
    return words


@mt_memo
def _event(event: Event, rng: Chooser) -> list[Tok]:
    rng = phrase(rng, event)
    if event.kind == "move":
        to = pick(rng, ("", "to the ")) if event.arg in ("left", "right") else ""
        return [
            Tok(pick(rng, MOVE), "event:move"),
            *toks(to),
            Tok(event.arg or "", f"dir:{event.arg}"),
        ]
    if event.kind == "turn":
        return [*toks(pick(rng, TURN), "event:turn"), Tok(event.arg or "", f"colour:{event.arg}")]
    table = {"grow": GROW, "shrink": SHRINK, "appear": APPEAR}[event.kind]
    return toks(pick(rng, table), f"event:{event.kind}")
