"""Japanese: modifiers before the noun (i-adjectives vs の-forms), SOV order with particles
(が, は, の, に, と), te-form linking of events (動いて、それから…), no spaces."""

from __future__ import annotations

from ccrkit.world.concepts import Event, Frame, Mention
from ccrkit.world.lang.base import Chooser, Tok, mt_memo, phrase, pick

CODE, SPACED = "ja", False

NOUN = {
    "circle": ("丸", "円"), "square": ("四角", "正方形"), "triangle": ("三角", "三角形"),
    "star": ("星", "星形"), "cross": ("十字", "十字形"), "diamond": ("ひし形", "菱形"),
}  # fmt: skip
# colour -> (attributive forms, stem for 〜くなる or None when it takes 〜になる)
COLOUR = {
    "red": (("赤い", "赤色の"), "赤"), "blue": (("青い", "青色の"), "青"),
    "yellow": (("黄色い", "黄色の"), "黄色"), "green": (("緑の", "緑色の"), None),
    "purple": (("紫の", "紫色の"), None), "orange": (("オレンジ色の", "オレンジの"), None),
}  # fmt: skip
SIZE = {"small": ("小さい", "小さな"), "big": ("大きい", "大きな")}
TEXTURE = {"striped": ("縞模様の", "しましまの"), "dotted": ("水玉模様の", "点々の")}
RELATION = {
    "left_of": ("左", "左側"), "right_of": ("右", "右側"), "above": ("上", "上方"),
    "below": ("下", "下方"),
}  # fmt: skip
POSITION = {  # places in the picture, followed by に
    "top_left": ("左上", "左上の方"), "top": ("上の方", "上部"), "top_right": ("右上", "右上の方"),
    "left": ("左側", "左の方"), "centre": ("真ん中", "中央"), "right": ("右側", "右の方"),
    "bottom_left": ("左下", "左下の方"), "bottom": ("下の方", "下部"),
    "bottom_right": ("右下", "右下の方"),
}  # fmt: skip
NUMBER = {2: "一つ", 3: "二つ"}  # other objects besides the one a caption mentions
DIRECTION = {"left": "左", "right": "右", "up": "上", "down": "下"}
WRONG_PARTICLE = {"が": "を", "は": "を", "に": "で", "と": "や"}
WRONG_SENSE = {
    "shape:square": "広場", "shape:star": "スター", "shape:cross": "怒った",
    "shape:diamond": "ダイヤモンド", "colour:orange": "みかんの", "event:turn": "回って",
    "rel:left_of": "残り", "event:move": "引っ越して",
}  # fmt: skip
FILLERS = ("とても", "も", "光る", "古い", "きれいな")


def particle(text: str) -> Tok:
    return Tok(text, bad_agreement=WRONG_PARTICLE.get(text, ""))


@mt_memo
def noun_phrase(m: Mention, rng: Chooser) -> list[Tok]:
    """'小さい縞模様の赤い丸': size, texture, colour, noun."""
    rng = phrase(rng, m)
    words = []
    if m.size:
        words.append(Tok(pick(rng, SIZE[m.size]), f"size:{m.size}"))
    if m.texture:
        words.append(Tok(pick(rng, TEXTURE[m.texture]), f"texture:{m.texture}"))
    if m.colour:
        words.append(Tok(pick(rng, COLOUR[m.colour][0]), f"colour:{m.colour}"))
    words.append(Tok(pick(rng, NOUN[m.shape]), f"shape:{m.shape}"))
    return words


def render(frame: Frame, rng: Chooser) -> list[Tok]:
    body = _video(frame, rng) if frame.events else _image(frame, rng)
    return [*body, Tok("。")]


def _exists(rng: Chooser) -> Tok:
    return Tok(pick(rng, ("ある", "あります", "描かれている")))


def _place(m: Mention, rng: Chooser) -> list[Tok]:
    if not m.position:
        return []
    word = pick(phrase(rng, ("pos", m.position)), POSITION[m.position])
    return [Tok(word, f"pos:{m.position}"), particle("に")]


def _clause(m: Mention, rng: Chooser, verb: Tok, only: bool = False) -> list[Tok]:
    """'左上に赤い丸がある' or '赤い丸が左上にある'; 'だけ' before が when it is the only object."""
    subject = [*noun_phrase(m, rng), *([Tok("だけ", "count:1")] if only else []), particle("が")]
    if pick(rng, ("place-first", "subject-first")) == "place-first":
        return [*_place(m, rng), *subject, verb]
    return [*subject, *_place(m, rng), verb]


def _image(frame: Frame, rng: Chooser) -> list[Tok]:
    if len(frame.objects) == 1:
        m = frame.objects[0]
        if not frame.count or frame.count == 1:
            return _clause(m, rng, _exists(rng), only=frame.count == 1)
        others = [
            Tok("ほかに"),
            Tok("図形"),
            particle("が"),
            Tok(NUMBER[frame.count], f"count:{frame.count}"),
        ]
        return [*_clause(m, rng, Tok("あり")), Tok("、"), *others, _exists(rng)]
    if frame.relation is None and any(m.position for m in frame.objects):
        a, b = frame.objects  # 左上に赤い丸があり、右に青い四角がある
        return [*_clause(a, rng, Tok("あり")), Tok("、"), *_clause(b, rng, _exists(rng))]
    first = noun_phrase(frame.objects[0], rng)
    second = noun_phrase(frame.objects[1], rng)
    if frame.relation is None:
        return [*first, particle("と"), *second, particle("が"), _exists(rng)]
    place = [
        *second,
        Tok("の"),
        Tok(pick(rng, RELATION[frame.relation]), f"rel:{frame.relation}"),
        particle("に"),
    ]
    template = pick(rng, ("place-first", "topic", "subject-first"))
    if template == "topic":  # X は Y の左にある
        return [*first, particle("は"), *place, _exists(rng)]
    if template == "subject-first":  # X が Y の左にある
        return [*first, particle("が"), *place, _exists(rng)]
    return [*place, *first, particle("が"), _exists(rng)]  # Y の左に X がある


def _video(frame: Frame, rng: Chooser) -> list[Tok]:
    words: list[Tok] = []
    said: set[int] = set()
    last = len(frame.events) - 1
    for i, event in enumerate(frame.events):
        if i > 0:
            words += [Tok("、"), Tok(pick(rng, ("それから", "その後", "次に")))]
        if event.subject not in said:
            words += [*noun_phrase(frame.objects[event.subject], rng), particle("が")]
            said.add(event.subject)
        words += _event(event, final=i == last, rng=rng)
    return words


@mt_memo
def _event(event: Event, final: bool, rng: Chooser) -> list[Tok]:
    """The predicate: dictionary form at the end of the sentence, te-form before another event."""
    rng = phrase(rng, event)
    if event.kind == "move":
        verb = ("動く", "移動する") if final else ("動いて", "移動して")
        index = pick(rng, (0, 1))
        return [
            Tok(DIRECTION[event.arg or ""], f"dir:{event.arg}"),
            particle("に"),
            Tok(verb[index], "event:move"),
        ]
    if event.kind == "turn":
        _, stem = COLOUR[event.arg or ""]
        naru = "なる" if final else "なって"
        if stem and pick(rng, (True, False)):  # 青くなる
            return [Tok(stem + "く", f"colour:{event.arg}"), Tok(naru, "event:turn")]
        colour = COLOUR[event.arg or ""][0][0].removesuffix("い").removesuffix("の")
        return [
            Tok(colour, f"colour:{event.arg}"),
            particle("に"),
            Tok(naru if stem is None else ("変わる" if final else "変わって"), "event:turn"),
        ]
    forms = {
        "grow": (("大きくなる", "大きくなって"),),
        "shrink": (("小さくなる", "小さくなって"),),
        "appear": (("現れる", "現れて"), ("出てくる", "出てきて")),
    }[event.kind]
    form = pick(rng, forms)
    return [Tok(form[0] if final else form[1], f"event:{event.kind}")]
