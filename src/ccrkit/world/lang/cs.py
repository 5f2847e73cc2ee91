"""Czech: no articles, hard adjective declension agreeing in gender and case with the noun
(nominative, genitive after 'nalevo od', instrumental after 'nad'/'pod'), pro-drop, clitic 'se'."""

from __future__ import annotations

from ccrkit.world.concepts import Event, Frame, Mention
from ccrkit.world.lang.base import Chooser, Tok, counted, mt_memo, phrase, pick, toks

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
POSITION = {  # adverbs or locative phrases after the noun phrase
    "top_left": ("vlevo nahoře", "v levém horním rohu"), "top": ("nahoře", "v horní části"),
    "top_right": ("vpravo nahoře", "v pravém horním rohu"), "left": ("vlevo", "na levé straně"),
    "centre": ("uprostřed", "ve středu"), "right": ("vpravo", "na pravé straně"),
    "bottom_left": ("vlevo dole", "v levém dolním rohu"), "bottom": ("dole", "v dolní části"),
    "bottom_right": ("vpravo dole", "v pravém dolním rohu"),
}  # fmt: skip
OTHERS = {  # '#': the number word, which carries the concept
    2: ("a #jeden další tvar", "a ještě #jeden tvar"),
    3: ("a #dva další tvary", "a ještě #dva tvary"),
}
ONLY = ("jen", "pouze")
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


@mt_memo
def noun_phrase(m: Mention, case: str, rng: Chooser) -> tuple[list[Tok], str]:
    """'malý pruhovaný červený kruh' / 'nad malou modrou hvězdou'."""
    rng = phrase(rng, m)
    forms, gender = pick(rng, NOUN[m.shape])
    words = [
        adjective(value, kind, case, gender)
        for kind, value in (("size", m.size), ("texture", m.texture), ("colour", m.colour))
        if value
    ]
    words.append(Tok(forms[CASES.index(case)], f"shape:{m.shape}"))
    if m.position:
        words += toks(pick(rng, POSITION[m.position]), f"pos:{m.position}")
    return words, gender


@mt_memo
def count_words(count: int | None, rng: Chooser) -> tuple[list[Tok], list[Tok]]:
    """'jen' before a one-object caption's noun phrase, or 'a dva další tvary' after it."""
    return counted(count, rng, ONLY, OTHERS)


def render(frame: Frame, rng: Chooser) -> list[Tok]:
    body = _video(frame, rng) if frame.events else _image(frame, rng)
    return [*body, Tok(".")]


def _image(frame: Frame, rng: Chooser) -> list[Tok]:
    first = noun_phrase(frame.objects[0], "nom", rng)[0]
    if len(frame.objects) == 1:
        lead = toks(pick(rng, ("", "je tu", "na obrázku je")))
        before, after = count_words(frame.count, rng)
        return [*lead, *before, *first, *after]
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


def _video(frame: Frame, rng: Chooser) -> list[Tok]:
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


@mt_memo
def _event(event: Event, gender: str, rng: Chooser) -> list[Tok]:
    rng = phrase(rng, event)
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
