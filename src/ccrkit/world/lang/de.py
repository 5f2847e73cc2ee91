"""German: grammatical gender, case (nominative, accusative after 'es gibt', dative after
prepositions), strong/mixed adjective endings after 'ein', verb-second order after 'dann', and
compound nouns ('Streifenmuster', 'Punktmuster', 'orangefarben')."""

from __future__ import annotations

from ccrkit.world.concepts import Event, Frame, Mention
from ccrkit.world.lang.base import Chooser, Tok, counted, mt_memo, phrase, pick, toks

CODE, SPACED = "de", True

NOUN = {  # concept -> (noun, gender) paraphrases
    "circle": (("Kreis", "m"), ("Scheibe", "f")), "square": (("Quadrat", "n"), ("Viereck", "n")),
    "triangle": (("Dreieck", "n"),), "star": (("Stern", "m"),), "cross": (("Kreuz", "n"),),
    "diamond": (("Raute", "f"),),
}  # fmt: skip
ADJ = {
    "red": "rot", "green": "grün", "blue": "blau", "yellow": "gelb", "purple": "violett",
    "orange": "orangefarben", "small": "klein", "big": "groß", "striped": "gestreift",
    "dotted": "gepunktet",
}  # fmt: skip
SIZE_ALT = {"small": "winzig", "big": "riesig"}
TEXTURE_WITH = {"striped": "Streifenmuster", "dotted": "Punktmuster"}
ARTICLE = {  # indefinite article by case and gender
    "nom": {"m": "ein", "f": "eine", "n": "ein"},
    "acc": {"m": "einen", "f": "eine", "n": "ein"},
    "dat": {"m": "einem", "f": "einer", "n": "einem"},
}
ENDING = {  # adjective ending after the indefinite article (mixed declension)
    "nom": {"m": "er", "f": "e", "n": "es"},
    "acc": {"m": "en", "f": "e", "n": "es"},
    "dat": {"m": "en", "f": "en", "n": "en"},
}
PRONOUN = {"m": "er", "f": "sie", "n": "es"}
RELATION = {
    "left_of": ("links von", "links neben"), "right_of": ("rechts von", "rechts neben"),
    "above": ("über", "oberhalb von"), "below": ("unter", "unterhalb von"),
}  # fmt: skip
POSITION = {  # adverbs and prepositional phrases: they follow the noun phrase in any case
    "top_left": ("oben links", "in der linken oberen Ecke"), "top": ("oben", "am oberen Rand"),
    "top_right": ("oben rechts", "in der rechten oberen Ecke"), "left": ("links", "am linken Rand"),
    "centre": ("in der Mitte", "mittig"), "right": ("rechts", "am rechten Rand"),
    "bottom_left": ("unten links", "in der linken unteren Ecke"), "bottom": ("unten", "am unteren Rand"),
    "bottom_right": ("unten rechts", "in der rechten unteren Ecke"),
}  # fmt: skip
OTHERS = {  # '#': the number word, which carries the concept
    2: ("und #eine weitere Form", "und noch #eine Form"),
    3: ("und #zwei weitere Formen", "und noch #zwei Formen"),
}
ONLY = ("nur", "lediglich")
DIRECTION = {"left": "links", "right": "rechts", "up": "oben", "down": "unten"}
WRONG_SENSE = {
    "shape:square": "Platz", "shape:star": "Star", "shape:cross": "böse",
    "shape:diamond": "Diamant", "colour:orange": "Apfelsine", "event:turn": "dreht",
    "rel:left_of": "übrig", "event:move": "zieht",
}  # fmt: skip
FILLERS = ("sehr", "auch", "glänzend", "alt", "schön")


def _other_gender(gender: str) -> str:
    return {"m": "f", "f": "n", "n": "m"}[gender]


@mt_memo
def noun_phrase(m: Mention, case: str, rng: Chooser) -> tuple[list[Tok], str]:
    """'einen kleinen roten Kreis' (with its gender), or 'ein Kreis mit Streifenmuster'."""
    rng = phrase(rng, m)
    noun, gender = pick(rng, NOUN[m.shape])
    wrong = _other_gender(gender)
    words = [Tok(ARTICLE[case][gender], bad_agreement=ARTICLE[case][wrong])]
    with_phrase = m.texture is not None and pick(rng, (False, True))
    adjectives = [("size", m.size), ("texture", None if with_phrase else m.texture)]
    for kind, value in [*adjectives, ("colour", m.colour)]:
        if value:
            stem = SIZE_ALT[value] if kind == "size" and pick(rng, (0, 1, 2)) == 2 else ADJ[value]
            ending, bad = ENDING[case][gender], ENDING[case][wrong]
            words.append(
                Tok(stem + ending, f"{kind}:{value}", stem + (bad if bad != ending else ""))
            )
    words.append(Tok(noun, f"shape:{m.shape}"))
    if m.texture and with_phrase:
        words += [Tok("mit"), Tok(TEXTURE_WITH[m.texture], f"texture:{m.texture}")]
    if m.position:
        words += toks(pick(rng, POSITION[m.position]), f"pos:{m.position}")
    return words, gender


@mt_memo
def count_words(count: int | None, rng: Chooser) -> tuple[list[Tok], list[Tok]]:
    """'nur' before a one-object caption's noun phrase, or 'und zwei weitere Formen' after it."""
    return counted(count, rng, ONLY, OTHERS)


def render(frame: Frame, rng: Chooser) -> list[Tok]:
    body = _video(frame, rng) if frame.events else _image(frame, rng)
    return [*body, Tok(".")]


def _image(frame: Frame, rng: Chooser) -> list[Tok]:
    if len(frame.objects) == 1:
        before, after = count_words(frame.count, rng)
        if pick(rng, ("nom", "es gibt")) == "nom":
            return [*before, *noun_phrase(frame.objects[0], "nom", rng)[0], *after]
        return [*toks("es gibt"), *before, *noun_phrase(frame.objects[0], "acc", rng)[0], *after]
    if frame.relation is None:
        case = pick(rng, ("nom", "acc"))
        lead = toks("es gibt") if case == "acc" else []
        first, second = (noun_phrase(o, case, rng)[0] for o in frame.objects)
        return [*lead, *first, Tok("und"), *second]
    rel = toks(pick(rng, RELATION[frame.relation]), f"rel:{frame.relation}")
    second = noun_phrase(frame.objects[1], "dat", rng)[0]
    template = pick(rng, ("plain", "ist", "befindet", "fronted", "es gibt"))
    if template == "es gibt":
        return [*toks("es gibt"), *noun_phrase(frame.objects[0], "acc", rng)[0], *rel, *second]
    first = noun_phrase(frame.objects[0], "nom", rng)[0]
    if template == "fronted":
        return [*rel, *second, Tok("ist"), *first]
    verb = {"plain": [], "ist": [Tok("ist")], "befindet": toks("befindet sich")}[template]
    return [*first, *verb, *rel, *second]


def _video(frame: Frame, rng: Chooser) -> list[Tok]:
    words: list[Tok] = []
    genders: dict[int, str] = {}
    for i, event in enumerate(frame.events):
        verb, tail = _event(event, rng)
        if event.subject in genders:
            g = genders[event.subject]
            subject = [Tok(PRONOUN[g], bad_agreement=PRONOUN[_other_gender(g)])]
        else:
            subject, genders[event.subject] = noun_phrase(frame.objects[event.subject], "nom", rng)
        if i == 0 and len(frame.events) > 1 and pick(rng, (False, True)):
            words += [Tok("zuerst"), *verb, *subject, *tail]  # verb second after the adverb
        elif i == 0:
            words += [*subject, *verb, *tail]
        else:
            link = toks(pick(rng, (", dann", ", danach", "und dann")))
            words += [*link, *verb, *subject, *tail]
    return words


@mt_memo
def _event(event: Event, rng: Chooser) -> tuple[list[Tok], list[Tok]]:
    """(finite verb, rest of the clause): German puts the subject between them after 'dann'."""
    rng = phrase(rng, event)
    if event.kind == "move":
        verb = pick(rng, ("bewegt sich", "gleitet", "wandert"))
        head, *reflexive = verb.split()
        rest = [Tok(w) for w in reflexive]
        return [Tok(head, "event:move")], [
            *rest,
            Tok("nach"),
            Tok(DIRECTION[event.arg or ""], f"dir:{event.arg}"),
        ]
    if event.kind == "turn":
        colour = ADJ[event.arg or ""]
        if pick(rng, ("wird", "färbt")) == "wird":
            return [Tok("wird", "event:turn")], [Tok(colour, f"colour:{event.arg}")]
        return [Tok("färbt", "event:turn")], [Tok("sich"), Tok(colour, f"colour:{event.arg}")]
    if event.kind == "grow":
        if pick(rng, ("wird", "wächst")) == "wird":
            return [Tok("wird", "event:grow")], [Tok("größer")]
        return [Tok("wächst", "event:grow")], []
    if event.kind == "shrink":
        if pick(rng, ("wird", "schrumpft")) == "wird":
            return [Tok("wird", "event:shrink")], [Tok("kleiner")]
        return [Tok("schrumpft", "event:shrink")], []
    if pick(rng, ("erscheint", "taucht")) == "erscheint":
        return [Tok("erscheint", "event:appear")], []
    return [Tok("taucht", "event:appear")], [Tok("auf")]
