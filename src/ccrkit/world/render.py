"""Scenes to pixels with Pillow: supersampled (anti-aliased) shapes with colour and pose jitter,
striped and dotted textures, overlapping objects, and varied low-saturation backgrounds."""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageDraw

from ccrkit.world.scene import MOVE_DELTA, Obj, Scene

RGB = {
    "red": (215, 40, 40), "green": (40, 165, 60), "blue": (40, 85, 220),
    "yellow": (235, 205, 35), "purple": (140, 60, 180), "orange": (245, 135, 25),
}  # fmt: skip
RADIUS = {"small": 0.1, "big": 0.16}


@dataclass(frozen=True)
class Drawn:
    """An object as drawn in one picture (one video frame): its current pose, size and colour."""

    obj: Obj
    x: float
    y: float
    radius: float
    colour: str


def render_image(scene: Scene, size: int, supersample: int) -> np.ndarray:
    """(size, size, 3) uint8 picture of an image scene."""
    drawn = [Drawn(o, o.x, o.y, RADIUS[o.size], o.colour) for o in scene.objects]
    return draw(drawn, canvas_base(background(scene.background, size), supersample), supersample)


def render_video(scene: Scene, size: int, n_frames: int, supersample: int) -> np.ndarray:
    """(n_frames, size, size, 3) uint8 frames; event k happens during the k-th time segment."""
    base = canvas_base(background(scene.background, size), supersample)  # shared by every frame
    return np.stack(
        [draw(video_state(scene, t, n_frames), base, supersample) for t in range(n_frames)]
    )


def video_state(scene: Scene, t: int, n_frames: int) -> list[Drawn]:
    """Every visible object at frame t: events before t are complete, the current one is partial."""
    time = t / max(1, n_frames - 1) * len(scene.events)
    drawn = []
    for i, obj in enumerate(scene.objects):
        x, y, radius, colour, visible = obj.x, obj.y, RADIUS[obj.size], obj.colour, True
        for k, event in enumerate(scene.events):
            if event.subject != i:
                continue
            progress = min(
                1.0, max(0.0, (time - k) / 0.8)
            )  # each event ends before its segment does
            if event.kind == "move":
                dx, dy = MOVE_DELTA[event.arg or ""]
                x, y = x + dx * progress, y + dy * progress
            elif event.kind == "grow":
                radius *= 1.0 + 0.6 * progress
            elif event.kind == "shrink":
                radius *= 1.0 - 0.45 * progress
            elif event.kind == "turn" and progress >= 0.5:
                colour = event.arg or colour
            elif event.kind == "appear":
                visible = progress >= 0.5
        if visible:
            drawn.append(Drawn(obj, x, y, radius, colour))
    return drawn


def canvas_base(bg: np.ndarray, supersample: int) -> Image.Image:
    """The background at the supersampled drawing size."""
    big = bg.shape[0] * supersample
    return Image.fromarray(bg).resize((big, big), Image.Resampling.BILINEAR)


def draw(objects: list[Drawn], base: Image.Image, supersample: int) -> np.ndarray:
    """Objects painted over a copy of `base` (from `canvas_base`), then reduced to picture size."""
    canvas = base.copy()
    big = canvas.width
    for item in objects:
        # Draw only inside the object's bounding box: most of the canvas is untouched.
        reach = int(item.radius * big * 1.3) + 2
        left, top = int(item.x * big) - reach, int(item.y * big) - reach
        mask = Image.new("L", (2 * reach, 2 * reach), 0)
        _draw_shape(ImageDraw.Draw(mask), item, big, left, top)
        canvas.paste(_fill(item, big, left, top, 2 * reach), (left, top), mask)
    return np.asarray(canvas.reduce(supersample))


def _draw_shape(pen: ImageDraw.ImageDraw, item: Drawn, big: int, left: int, top: int) -> None:
    cx, cy, r = item.x * big - left, item.y * big - top, item.radius * big
    if item.obj.shape == "circle":
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
        return
    angle = math.radians(item.obj.angle)
    points = [
        (cx + r * (px * math.cos(angle) - py * math.sin(angle)),
         cy + r * (px * math.sin(angle) + py * math.cos(angle)))
        for px, py in _outline(item.obj.shape)
    ]  # fmt: skip
    pen.polygon(points, fill=255)


@cache
def _outline(shape: str) -> tuple[tuple[float, float], ...]:
    """Unit outline of a shape (radius 1), y pointing down."""
    if shape == "square":
        return ((-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85))
    if shape == "triangle":
        return tuple((1.15 * math.sin(a), -1.15 * math.cos(a)) for a in (0, 2.094, 4.189))
    if shape == "star":
        return tuple(
            ((1.2 if k % 2 == 0 else 0.5) * math.sin(k * math.pi / 5),
             -(1.2 if k % 2 == 0 else 0.5) * math.cos(k * math.pi / 5))
            for k in range(10)
        )  # fmt: skip
    if shape == "cross":
        a, b = 0.33, 1.0
        return ((-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b), (-a, a),
                (-b, a), (-b, -a), (-a, -a))  # fmt: skip
    if shape == "diamond":
        return ((0.0, -1.2), (0.75, 0.0), (0.0, 1.2), (-0.75, 0.0))
    raise ValueError(f"unknown shape {shape!r}")


def _fill(
    item: Drawn, big: int, left: int, top: int, side: int
) -> Image.Image | tuple[int, int, int]:
    """The object's paint: its colour (slightly jittered per object), striped or dotted."""
    jitter = (int(item.obj.angle * 7) % 21) - 10
    base = np.clip(np.array(RGB[item.colour]) + jitter, 0, 255)
    if item.obj.texture == "plain":
        return (int(base[0]), int(base[1]), int(base[2]))
    dark = (base * (0.45 if item.colour != "purple" else 0.3)).astype(np.uint8)
    pattern = _pattern(item.obj.texture, big, left, top, side)
    pixels = np.where(pattern[..., None], dark, base.astype(np.uint8)).astype(np.uint8)
    return Image.fromarray(pixels)


def _pattern(texture: str, big: int, left: int, top: int, side: int) -> np.ndarray:
    """The texture's dark pixels inside the box (left, top, side), in picture coordinates so that
    the pattern stays fixed to the picture, as print on paper would."""
    yy, xx = np.mgrid[top : top + side, left : left + side]
    period = big / 11
    if texture == "striped":
        return ((xx + yy) % period) < period * 0.45
    cell = big / 14
    dy, dx = (yy % cell) - cell / 2, (xx % cell) - cell / 2
    return dx * dx + dy * dy < (cell * 0.28) ** 2


def background(seed: int, size: int) -> np.ndarray:
    """A low-saturation two-colour gradient with grain and soft blotches, never an object colour."""
    rng = np.random.default_rng(seed)
    hue = rng.random()
    colours = [
        np.array(
            colorsys.hsv_to_rgb(
                (hue + rng.uniform(-0.1, 0.1)) % 1, rng.uniform(0.05, 0.22), rng.uniform(0.55, 0.95)
            )
        )
        * 255
        for _ in range(2)
    ]
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size] / size
    ramp = np.clip(0.5 + (xx - 0.5) * math.cos(angle) + (yy - 0.5) * math.sin(angle), 0, 1)[
        ..., None
    ]
    img = colours[0] * (1 - ramp) + colours[1] * ramp
    for _ in range(rng.integers(0, 4)):  # soft blotches
        bx, by, br = rng.random(), rng.random(), rng.uniform(0.1, 0.3)
        blob = np.exp(-((xx - bx) ** 2 + (yy - by) ** 2) / (2 * br * br))[..., None]
        img = img + blob * rng.uniform(-25, 25)
    img = img + rng.normal(0, 5, size=(size, size, 1))
    return np.clip(img, 0, 255).astype(np.uint8)
