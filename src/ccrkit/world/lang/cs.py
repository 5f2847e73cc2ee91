"""Czech: no articles, hard adjective declension agreeing in gender and case with the noun
(nominative, genitive after 'nalevo od', instrumental after 'nad'/'pod'), pro-drop, clitic 'se'."""

from __future__ import annotations

import random

from ccrkit.world.concepts import Event, Frame, Mention
from ccrkit.world.lang.base import Tok, pick, toks

CODE, SPACED = "cs", True

NOUN = {  # concept -> ((nominative, genitive, instrumental), gender) paraphrases
    "circle": ((("kruh", "kruhu", "kruhem"), "m"), (("kolečko", "kolečka", "kolečkem"), "n")),
    "square": ((("čtverec", "čtverce", "čtvercem"), "m"),),
    "triangle": ((("trojúhelník", "trojúhelníku", "trojúhelníkem"), "m"),),
    "star": ((("hvězda", "hvězdy", "hvězdou"), "f"), (("hvězdička", "hvězdičky", "hvězdičkou"), "f")),
    "cross": ((("kříž", "kříže", "křížem"), "m"), (("křížek", "křížku", "křížkem"), "m")),
    "diamond": ((("kosočtverec", "kosočtverce", "kosočtvercem"), "m"),),
}  # fmt: skip
CASES = ("nom", "gen", "ins")
ADJ_STEM = {
    "red": "červen", "green": "zelen", "blue": "modr", "yellow": "žlut", "purple": "fialov",
    "orange": "oranžov", "small": "mal", "big": "velk", "striped": "pruhovan",
    "dotted": "tečkovan",
}  # fmt: skip
ENDING = {  # hard adjective endings by case and gender
    "nom": {"m": "ý", "f": "á", "n": "é"},
    "gen": {"m": "ého", "f": "é", "n": "ého"},
    "ins": {"m": "ým", "f": "ou", "n": "ým"},
}
RELATION = {  # (preposition, case)
    "left_of": (("nalevo od", "gen"), ("vlevo od", "gen")),
    "right_of": (("napravo od", "gen"), ("vpravo od", "gen")),
    "above": (("nad", "ins"),), "below": (("pod", "ins"),),
}  # fmt: skip
DIRECTION = {"left": "doleva", "right": "doprava", "up": "nahoru", "down": "dolů"}
WRONG_SENSE = {
    "shape:square": "náměstí", "shape:star": "celebrita", "shape:cross": "naštvaný",
    "shape:diamond": "diamant", "colour:orange": "pomeranč", "event:turn": "otočí",
    "rel:left_of": "zbylý", "event:move": "stěhuje",
}  # fmt: skip
FILLERS = ("velmi", "také", "lesklý", "starý", "hezký")


def _other_gender(gender: str) -> str:
    return {"m": "f", "f": "n", "n": "m"}[gender]


def adjective(value: str, kind: str, case: str, gender: str) -> Tok:
    right = ADJ_STEM[value] + ENDING[case][gender]
    wrong = ADJ_STEM[value] + ENDING[case][_other_gender(gender)]
    return Tok(right, f"{kind}:{value}", wrong if wrong != right else "")


def noun_phrase(m: Mention, case: str, rng: random.Random | None) -> tuple[list[Tok], str]:
    """'malý pruhovaný červený kruh' / 'nad malou modrou hvězdou'."""
    forms, gender = pick(rng, NOUN[m.shape])
    words = [
        adjective(value, kind, case, gender)
        for kind, value in (("size", m.size), ("texture", m.texture), ("colour", m.colour))
        if value
    ]
    words.append(Tok(forms[CASES.index(case)], f"shape:{m.shape}"))
    return words, gender


def render(frame: Frame, rng: random.Random | None) -> list[Tok]:
    body = _video(frame, rng) if frame.events else _image(frame, rng)
    return [*body, Tok(".")]


def _image(frame: Frame, rng: random.Random | None) -> list[Tok]:
    first = noun_phrase(frame.objects[0], "nom", rng)[0]
    if len(frame.objects) == 1:
        return [*pick(rng, ([], toks("je tu"), toks("na obrázku je"))), *first]
    if frame.relation is None:
        lead = pick(rng, ([], toks("je tu")))
        return [*lead, *first, Tok("a"), *noun_phrase(frame.objects[1], "nom", rng)[0]]
    preposition, case = pick(rng, RELATION[frame.relation])
    rel = toks(preposition, f"rel:{frame.relation}")
    if preposition.endswith(" od"):  # tag the direction word, not 'od'
        head, od = preposition.split()
        rel = [Tok(head, f"rel:{frame.relation}"), Tok(od)]
    second = noun_phrase(frame.objects[1], case, rng)[0]
    template = pick(rng, ("je", "plain", "fronted", "je tu"))
    if template == "plain":
        return [*first, *rel, *second]
    if template == "fronted":
        return [*rel, *second, Tok("je"), *first]
    if template == "je tu":
        return [*toks("je tu"), *first, *rel, *second]
    return [*first, Tok("je"), *rel, *second]


def _video(frame: Frame, rng: random.Random | None) -> list[Tok]:
    words: list[Tok] = []
    genders: dict[int, str] = {}
    for i, event in enumerate(frame.events):
        if i > 0:
            words += toks(pick(rng, ("a pak", ", potom", "a poté")))
        elif len(frame.events) > 1 and pick(rng, (False, True)):
            words.append(Tok("nejdřív"))
        known = event.subject in genders
        if not known:
            subject, genders[event.subject] = noun_phrase(frame.objects[event.subject], "nom", rng)
        gender = genders[event.subject]
        clause = _event(event, gender, rng)
        if known:  # pro-drop: the verb agrees, no subject word
            words += clause
        elif event.kind == "appear" and i > 0:
            words += [*clause, *subject]  # 'a pak se objeví modrá hvězda'
        elif words and clause[0].text == "se":  # the clitic stays second: 'nejdřív se kruh ...'
            words += [clause[0], *subject, *clause[1:]]
        else:
            words += [*subject, *clause]
    return words


def _event(event: Event, gender: str, rng: random.Random | None) -> list[Tok]:
    if event.kind == "move":
        verb = pick(rng, ("posune", "pohne", "přesune"))
        return [
            Tok("se"),
            Tok(verb, "event:move"),
            Tok(DIRECTION[event.arg or ""], f"dir:{event.arg}"),
        ]
    if event.kind == "turn":
        if pick(rng, ("změní barvu", "změní se")) == "změní barvu":
            barva = adjective(event.arg or "", "colour", "nom", "f")  # agrees with 'barvu' (acc f)
            acc = Tok(ADJ_STEM[event.arg or ""] + "ou", barva.concept, barva.text)
            return [Tok("změní", "event:turn"), Tok("barvu"), Tok("na"), acc]
        return [
            Tok("se"),
            Tok("změní", "event:turn"),
            Tok("na"),
            adjective(event.arg or "", "colour", "nom", gender),
        ]
    verbs = {"grow": ("zvětší",), "shrink": ("zmenší",), "appear": ("objeví", "ukáže")}[event.kind]
    return [Tok("se"), Tok(pick(rng, verbs), f"event:{event.kind}")]
