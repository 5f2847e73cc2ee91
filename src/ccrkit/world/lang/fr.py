"""French: gender agreement of article, adjectives and predicate, size adjectives before the noun,
colour and texture after it, 'de' + 'un' elided to "d'un"."""

from __future__ import annotations

from ccrkit.world.concepts import Event, Frame, Mention
from ccrkit.world.lang.base import Chooser, Tok, counted, mt_memo, phrase, pick, toks

CODE, SPACED = "fr", True

NOUN = {
    "circle": (("cercle", "m"), ("rond", "m")), "square": (("carré", "m"),),
    "triangle": (("triangle", "m"),), "star": (("étoile", "f"),), "cross": (("croix", "f"),),
    "diamond": (("losange", "m"),),
}  # fmt: skip
ADJ = {  # (masculine, feminine)
    "red": ("rouge", "rouge"), "green": ("vert", "verte"), "blue": ("bleu", "bleue"),
    "yellow": ("jaune", "jaune"), "purple": ("violet", "violette"), "orange": ("orange", "orange"),
    "small": ("petit", "petite"), "big": ("grand", "grande"),
    "striped": ("rayé", "rayée"), "dotted": ("à pois", "à pois"),
}  # fmt: skip
ARTICLE = {"m": "un", "f": "une"}
PRONOUN = {"m": "il", "f": "elle"}
RELATION = {  # phrases ending in 'de', elided with the following article
    "left_of": ("à gauche de",), "right_of": ("à droite de",),
    "above": ("au-dessus de",), "below": ("en dessous de", "au-dessous de"),
}  # fmt: skip
POSITION = {
    "top_left": ("en haut à gauche", "dans le coin supérieur gauche"), "top": ("en haut", "vers le haut"),
    "top_right": ("en haut à droite", "dans le coin supérieur droit"),
    "left": ("à gauche", "sur la gauche"), "centre": ("au centre", "au milieu"),
    "right": ("à droite", "sur la droite"),
    "bottom_left": ("en bas à gauche", "dans le coin inférieur gauche"), "bottom": ("en bas", "vers le bas"),
    "bottom_right": ("en bas à droite", "dans le coin inférieur droit"),
}  # fmt: skip
OTHERS = {  # '#': the number word, which carries the concept
    2: ("et #une autre forme", "et encore #une forme"),
    3: ("et #deux autres formes", "et encore #deux formes"),
}
ONLY = ("seulement", "uniquement")
DIRECTION = {"left": "la gauche", "right": "la droite", "up": "le haut", "down": "le bas"}
WRONG_SENSE = {
    "shape:square": "place", "shape:star": "vedette", "shape:cross": "fâché",
    "shape:diamond": "diamant", "event:turn": "tourne", "rel:left_of": "laissé",
    "event:move": "déménage",
}  # fmt: skip
FILLERS = ("très", "aussi", "brillant", "vieux", "joli")


def _index(gender: str) -> int:
    return 0 if gender == "m" else 1


@mt_memo
def noun_phrase(m: Mention, rng: Chooser, after_de: bool = False) -> tuple[list[Tok], str]:
    """'un petit cercle rouge rayé' (after 'de': "d'un petit ...")."""
    rng = phrase(rng, m)
    noun, gender = pick(rng, NOUN[m.shape])
    other = "f" if gender == "m" else "m"
    article = ARTICLE[gender]
    words = [Tok(f"d'{article}" if after_de else article, bad_agreement=ARTICLE[other])]
    if m.size:
        words.append(_adjective(m.size, "size", gender))
    words.append(Tok(noun, f"shape:{m.shape}"))
    if m.colour:
        words.append(_adjective(m.colour, "colour", gender))
    if m.texture:
        words.append(_adjective(m.texture, "texture", gender))
    if m.position:
        words += toks(pick(rng, POSITION[m.position]), f"pos:{m.position}")
    return words, gender


@mt_memo
def count_words(count: int | None, rng: Chooser) -> tuple[list[Tok], list[Tok]]:
    """'seulement' before a one-object caption's noun phrase, or 'et deux autres formes' after it."""
    return counted(count, rng, ONLY, OTHERS)


def _adjective(value: str, kind: str, gender: str) -> Tok:
    forms = ADJ[value]
    right, wrong = forms[_index(gender)], forms[1 - _index(gender)]
    return Tok(right, f"{kind}:{value}", wrong if wrong != right else "")


def render(frame: Frame, rng: Chooser) -> list[Tok]:
    body = _video(frame, rng) if frame.events else _image(frame, rng)
    return [*body, Tok(".")]


def _image(frame: Frame, rng: Chooser) -> list[Tok]:
    first = noun_phrase(frame.objects[0], rng)[0]
    if len(frame.objects) == 1:
        lead = toks(pick(rng, ("", "il y a", "on voit")))
        before, after = count_words(frame.count, rng)
        return [*lead, *before, *first, *after]
    if frame.relation is None:
        lead = pick(rng, ([], toks("il y a")))
        return [*lead, *first, Tok("et"), *noun_phrase(frame.objects[1], rng)[0]]
    phrase = pick(rng, RELATION[frame.relation]).split()[:-1]  # drop 'de': it is elided below
    rel = [Tok(w) for w in phrase[:-1]] + [Tok(phrase[-1], f"rel:{frame.relation}")]
    second = noun_phrase(frame.objects[1], rng, after_de=True)[0]
    template = pick(rng, ("plain", "est", "il y a", "fronted"))
    if template == "est":
        return [*first, Tok("est"), *rel, *second]
    if template == "il y a":
        return [*toks("il y a"), *first, *rel, *second]
    if template == "fronted":
        return [*rel, *second, Tok(","), *toks("il y a"), *first]
    return [*first, *rel, *second]


def _video(frame: Frame, rng: Chooser) -> list[Tok]:
    words: list[Tok] = []
    genders: dict[int, str] = {}
    if len(frame.events) > 1 and pick(rng, (False, True)):
        words.append(Tok("d'abord"))
    for i, event in enumerate(frame.events):
        if i > 0:
            words += toks(pick(rng, (", puis", "et ensuite", ", après quoi")))
        if event.subject in genders:
            g = genders[event.subject]
            subject = [Tok(PRONOUN[g], bad_agreement=PRONOUN["f" if g == "m" else "m"])]
        else:
            subject, genders[event.subject] = noun_phrase(frame.objects[event.subject], rng)
        words += [*subject, *_event(event, genders[event.subject], rng)]
    return words


@mt_memo
def _event(event: Event, gender: str, rng: Chooser) -> list[Tok]:
    rng = phrase(rng, event)
    if event.kind == "move":
        verb = pick(rng, ("se déplace", "glisse", "va"))
        *reflexive, head = verb.split()
        return [*map(Tok, reflexive), Tok(head, "event:move"), Tok("vers"),
                *toks(DIRECTION[event.arg or ""], f"dir:{event.arg}")]  # fmt: skip
    if event.kind == "turn":
        return [Tok("devient", "event:turn"), _adjective(event.arg or "", "colour", gender)]
    if event.kind in ("grow", "shrink"):
        size = "big" if event.kind == "grow" else "small"
        if pick(rng, (True, False)):
            return [
                Tok("devient", f"event:{event.kind}"),
                Tok("plus"),
                _adjective(size, "size", gender),
            ]
        return [Tok("grandit" if size == "big" else "rétrécit", f"event:{event.kind}")]
    return [Tok("apparaît", "event:appear")]
