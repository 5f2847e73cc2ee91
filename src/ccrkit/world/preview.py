"""`preview.png`: a contact sheet of a few test items of each collection with their captions in
every language and the MT of the English caption, so a person can see the world."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import warnings
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ccrkit.runs import write_atomic
from ccrkit.world import layout

SCALE, LINE, WIDTH, FONT_SIZE = 3, 18, 1500, 14


@cache
def font_path(lang: str, probe: str) -> str | None:
    """A font that fontconfig says covers `lang` and that really draws `probe`, or None."""
    if shutil.which("fc-match") is None:
        return None
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", f":lang={lang}"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if (
        found
        and Path(found).is_file()
        and ImageFont.truetype(found, FONT_SIZE).getbbox(probe)[2] > 0
    ):
        return found
    return None


@cache
def load_font(cjk: bool) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """A CJK font (e.g. Debian's fonts-noto-cjk or fonts-wqy-zenhei) for zh/ja lines, a Latin
    one with Czech letters for the rest; Pillow's default font with a warning if none is found."""
    path = font_path("ja", "日本語") if cjk else font_path("cs", "žluťoučký")
    if path is None:
        warnings.warn(
            f"no font with {'CJK' if cjk else 'Czech'} glyphs found (install fonts-noto-cjk / "
            "fonts-dejavu); some preview captions will show boxes",
            stacklevel=2,
        )
        return ImageFont.load_default(FONT_SIZE)
    return ImageFont.truetype(path, FONT_SIZE)


def read_captions(path: Path) -> dict[str, str]:
    """`<id> <text>` lines, split on the first space."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cid, _, text = line.partition(" ")
        out[cid] = text
    return out


def read_noise(path: Path) -> dict[str, list[str]]:
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    return {row["id"]: row["noise"] for row in rows}


def item_lines(root: Path, collection: str, item: str, languages: list[str]) -> list[str]:
    def caption(tag: str) -> str:
        return read_captions(layout.caption_file(root, collection, "test", tag)).get(
            f"{item}#{tag}#0", ""
        )

    lines = [f"{item}   en: {caption('enc')}"]
    for lang in languages:
        mt_tag = f"enc2{lang}"
        noise = read_noise(layout.noise_file(root, collection, "test", mt_tag)).get(
            f"{item}#{mt_tag}#0", []
        )
        lines.append(f"  {lang} human: {caption(lang)}")
        lines.append(
            f"  {lang} MT:    {caption(mt_tag)}" + (f"   [{', '.join(noise)}]" if noise else "")
        )
    return lines


def picture(root: Path, collection: str, item: str, frames: int) -> Image.Image:
    folder = layout.picture_dir(root, collection)
    if collection == layout.IMAGE_COLLECTION:
        img = Image.open(folder / f"{item}.png").convert("RGB")
    else:  # every other frame of the video, side by side
        shown = [
            Image.open(folder / f"{layout.frame_id(item, k)}.png").convert("RGB")
            for k in range(0, frames, 2)
        ]
        img = Image.new("RGB", (sum(f.width for f in shown), shown[0].height))
        for i, f in enumerate(shown):
            img.paste(f, (i * f.width, 0))
    return img.resize((img.width * SCALE // 2 if collection != layout.IMAGE_COLLECTION else img.width * SCALE,
                       img.height * SCALE // (2 if collection != layout.IMAGE_COLLECTION else 1)))  # fmt: skip


def write_preview(root: str | Path, items_per_collection: int = 4) -> Path:
    root = Path(root)
    info = json.loads((root / layout.WORLD_JSON).read_text(encoding="utf-8"))
    languages = info["languages"][1:]
    blocks = []
    for collection, meta in info["collections"].items():
        first = info["collections"][collection]["items"]
        start = first["train"] + first["val"]
        step = info["config"]["family_size"]  # one item per family: different scenes
        for n in range(start, start + first["test"], step)[:items_per_collection]:
            item = layout.item_id(collection, n)
            pic = picture(root, collection, item, meta.get("frames_per_video", 1))
            blocks.append((pic, item_lines(root, collection, item, languages)))
    height = sum(max(p.height, LINE * len(lines)) + 12 for p, lines in blocks) + 10
    sheet = Image.new("RGB", (WIDTH, height), "white")
    pen = ImageDraw.Draw(sheet)
    y = 5
    for pic, lines in blocks:
        sheet.paste(pic, (5, y))
        x = pic.width + 15
        for i, line in enumerate(lines):
            cjk = line.lstrip().startswith(("zh ", "ja "))
            pen.text((x, y + i * LINE), line, fill=(20, 20, 20), font=load_font(cjk))
        y += max(pic.height, LINE * len(lines)) + 12
        pen.line((0, y - 6, WIDTH, y - 6), fill=(200, 200, 200))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    path = root / layout.PREVIEW_PNG
    write_atomic(path, buffer.getvalue())
    return path
