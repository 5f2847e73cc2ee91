"""Chinese: numeral + measure word (个, 颗) before the noun, 的 after modifiers, 在…的左边
locatives, existential 有, 先…然后… for temporal order, no spaces."""

from __future__ import annotations

from ccrkit.world.concepts import Event, Frame, Mention
from ccrkit.world.lang.base import Chooser, Tok, mt_memo, phrase, pick

CODE, SPACED = "zh", False

NOUN = {  # concept -> (noun, measure word) paraphrases
    "circle": (("圆形", "个"), ("圆圈", "个")), "square": (("正方形", "个"), ("方块", "个")),
    "triangle": (("三角形", "个"),), "star": (("星星", "颗"), ("五角星", "个")),
    "cross": (("十字", "个"), ("十字形", "个")), "diamond": (("菱形", "个"),),
}  # fmt: skip
WRONG_MEASURE = {"个": "条", "颗": "张"}
COLOUR = {
    "red": ("红色", "红"), "green": ("绿色", "绿"), "blue": ("蓝色", "蓝"),
    "yellow": ("黄色", "黄"), "purple": ("紫色", "紫"), "orange": ("橙色", "橙"),
}  # fmt: skip
SIZE = {"small": "小", "big": "大"}
TEXTURE = {"striped": ("带条纹的", "有条纹的"), "dotted": ("带圆点的", "有斑点的")}
RELATION = {
    "left_of": ("左边", "左侧"), "right_of": ("右边", "右侧"),
    "above": ("上面", "上方"), "below": ("下面", "下方"),
}  # fmt: skip
POSITION = {  # locatives that open an existential clause: 左上角有…
    "top_left": ("左上角", "左上方"), "top": ("上方", "上部"), "top_right": ("右上角", "右上方"),
    "left": ("左侧", "左边"), "centre": ("中间", "中央"), "right": ("右侧", "右边"),
    "bottom_left": ("左下角", "左下方"), "bottom": ("下方", "下部"),
    "bottom_right": ("右下角", "右下方"),
}  # fmt: skip
NUMBER = {2: "一", 3: "两"}  # other objects besides the one a caption mentions
DIRECTION = {"left": "左", "right": "右", "up": "上", "down": "下"}
WRONG_SENSE = {
    "shape:square": "广场", "shape:star": "明星", "shape:cross": "生气",
    "shape:diamond": "钻石", "colour:orange": "橙子", "event:turn": "转动",
    "rel:left_of": "剩下", "event:move": "搬家",
}  # fmt: skip
FILLERS = ("非常", "也", "闪亮的", "旧的", "漂亮的")


@mt_memo
def noun_phrase(m: Mention, rng: Chooser, numeral: bool = True) -> list[Tok]:
    """'一个带条纹的红色小圆形': numeral, measure word, modifiers with 的, size, noun."""
    rng = phrase(rng, m)
    noun, measure = pick(rng, NOUN[m.shape])
    words = [Tok("一"), Tok(measure, bad_agreement=WRONG_MEASURE[measure])] if numeral else []
    if m.texture:
        words.append(Tok(pick(rng, TEXTURE[m.texture]), f"texture:{m.texture}"))
    if m.colour:
        long_form = pick(rng, (True, False))
        colour = COLOUR[m.colour][0]
        words.append(Tok(colour + ("的" if long_form and not m.size else ""), f"colour:{m.colour}"))
    if m.size:
        words.append(Tok(SIZE[m.size], f"size:{m.size}"))
    words.append(Tok(noun, f"shape:{m.shape}"))
    return words


def render(frame: Frame, rng: Chooser) -> list[Tok]:
    body = _video(frame, rng) if frame.events else _image(frame, rng)
    return [*body, Tok("。")]


def _exists(m: Mention, rng: Chooser, only: bool = False, also: bool = False) -> list[Tok]:
    """The existential clause of one object: '左上角有一个…' (a locative first when its place is
    said), '只有' when it is the only object, '还有' for a second object without a place."""
    verb = Tok("只有", "count:1") if only else Tok("还有" if also else "有")
    if m.position:
        place = Tok(
            pick(phrase(rng, ("pos", m.position)), POSITION[m.position]), f"pos:{m.position}"
        )
        return [*pick(rng, ([place], [Tok("在"), place])), verb]
    lead = pick(rng, ("", "图中", "画面上"))
    return [Tok(lead + verb.text, verb.concept)] if lead else [verb]


def _image(frame: Frame, rng: Chooser) -> list[Tok]:
    if len(frame.objects) == 1:
        m = frame.objects[0]
        words = [*_exists(m, rng, only=frame.count == 1), *noun_phrase(m, rng)]
        if frame.count and frame.count > 1:
            others = [Tok(NUMBER[frame.count], f"count:{frame.count}"), Tok("个"), Tok("图形")]
            lead = pick(phrase(rng, ("count", frame.count)), ("还有另外", "旁边还有"))
            words += [Tok("，"), Tok(lead), *others]
        return words
    first = noun_phrase(frame.objects[0], rng)
    second = noun_phrase(frame.objects[1], rng)
    if frame.relation is None and any(m.position for m in frame.objects):
        a, b = frame.objects
        return [*_exists(a, rng), *first, Tok("，"), *_exists(b, rng, also=True), *second]
    if frame.relation is None:
        return [*pick(rng, ([Tok("有")], [])), *first, Tok("和"), *second]
    side = Tok(pick(rng, RELATION[frame.relation]), f"rel:{frame.relation}")
    template = pick(rng, ("在", "有", "在…有"))
    if template == "在":  # X 在 Y 的左边
        return [*first, Tok("在"), *second, Tok("的"), side]
    if template == "有":  # Y 的左边有 X
        return [*second, Tok("的"), side, Tok("有"), *first]
    return [Tok("在"), *second, Tok("的"), side, Tok("有"), *first]


def _video(frame: Frame, rng: Chooser) -> list[Tok]:
    words: list[Tok] = []
    said: set[int] = set()
    use_xian = pick(rng, (False, True)) and len(frame.events) > 1
    for i, event in enumerate(frame.events):
        if i > 0:
            words += [Tok("，"), Tok(pick(rng, ("然后", "接着", "随后")))]
        clause = _event(event, rng)
        if event.subject in said:
            words += clause  # the subject carries over, as Chinese allows
        elif event.kind == "appear":  # existential order: 出现了一个蓝色的星星
            words += [
                Tok("出现了", "event:appear"),
                *noun_phrase(frame.objects[event.subject], rng),
            ]
        else:
            words += noun_phrase(frame.objects[event.subject], rng)
            if i == 0 and use_xian:
                words.append(Tok("先"))
            words += clause
        said.add(event.subject)
    return words


@mt_memo
def _event(event: Event, rng: Chooser) -> list[Tok]:
    rng = phrase(rng, event)
    if event.kind == "move":
        direction = Tok(DIRECTION[event.arg or ""], f"dir:{event.arg}")
        return [
            Tok(pick(rng, ("向", "往"))),
            direction,
            Tok(pick(rng, ("移动", "移动了", "移")), "event:move"),
        ]
    if event.kind == "turn":
        colour = Tok(COLOUR[event.arg or ""][0], f"colour:{event.arg}")
        return [Tok(pick(rng, ("变成", "变为", "变成了")), "event:turn"), colour]
    verbs = {"grow": ("变大", "变大了"), "shrink": ("变小", "变小了"), "appear": ("出现", "出现了")}
    return [Tok(pick(rng, verbs[event.kind]), f"event:{event.kind}")]
