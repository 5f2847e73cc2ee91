"""Tiny random MT models built per test session (`ccrkit.translate.tiny`: a sentencepiece
vocabulary trained on real Multi30K lines, a random MarianMT / M2M100 / NLLB network,
`save_pretrained`), and small caption collections.

The models translate through the same code path as a real checkpoint; their output is gibberish,
so the tests check plumbing (ids, batching, cache, language codes), never translation quality.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ccrkit.translate.tiny import build_tiny_m2m100, build_tiny_marian, build_tiny_nllb

FIXTURES = Path(__file__).parents[1] / "data" / "fixtures" / "VisualSearch"
MULTI30K_TEXT = FIXTURES / "multi30k" / "TextData"


def caption_texts(name: str) -> list[str]:
    lines = (MULTI30K_TEXT / name).read_text(encoding="utf-8").splitlines()
    return [line.partition(" ")[2] for line in lines]


def corpus() -> list[str]:
    """Real English and German Multi30K captions (train, val, test fixtures)."""
    names = ["multi30ktrain_enc.caption.txt", "multi30ktrain_google_enc2de.caption.txt",
             "multi30kval_de_task1.caption.txt", "multi30ktest_de_2016_task1.caption.txt",
             "multi30ktest_google_de2enc_2016_task1.caption.txt"]  # fmt: skip
    return [text for name in names for text in caption_texts(name)]


@pytest.fixture(scope="session")
def marian_dir(tmp_path_factory) -> Path:
    return build_tiny_marian(tmp_path_factory.mktemp("models") / "opus-mt-en-de", corpus())


@pytest.fixture(scope="session")
def marian_back_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "opus-mt-de-en"
    return build_tiny_marian(folder, corpus(), "de", "en", seed=1)


@pytest.fixture(scope="session")
def m2m_dir(tmp_path_factory) -> Path:
    return build_tiny_m2m100(tmp_path_factory.mktemp("models") / "m2m100-tiny", corpus())


@pytest.fixture(scope="session")
def nllb_dir(tmp_path_factory) -> Path:
    return build_tiny_nllb(tmp_path_factory.mktemp("models") / "nllb-tiny", corpus())


@pytest.fixture
def multi30k_root(tmp_path) -> Path:
    """The Multi30K text fixtures (real lines, official names) without the MT files of task 1."""
    root = tmp_path / "VisualSearch"
    shutil.copytree(FIXTURES / "multi30k" / "TextData", root / "multi30k" / "TextData")
    for name in ("multi30ktrain_google_enc2de", "multi30ktrain_google_enc2de2enc"):
        (root / "multi30k" / "TextData" / f"{name}.caption.txt").unlink()
    return root


WORLD_EN = caption_texts("multi30ktrain_enc.caption.txt")[:4]
WORLD_DE = caption_texts("multi30ktrain_google_enc2de.caption.txt")[:4]


def write_world_split(text_dir: Path, split: str, first_item: int) -> None:
    """Items with two captions each: English (one repeated), human German, in the world's names."""
    english = [WORLD_EN[0], WORLD_EN[1], WORLD_EN[2], WORLD_EN[0]]  # the 4th repeats the 1st
    files = {"enc": english, "de": WORLD_DE}
    for tag, texts in files.items():
        name = f"worldimage{split}_{tag}.caption.txt"
        lines = [
            f"img{first_item + k // 2:05d}#{tag}#{k % 2} {text}\n" for k, text in enumerate(texts)
        ]
        (text_dir / name).write_text("".join(lines), encoding="utf-8")


@pytest.fixture
def world_root(tmp_path) -> Path:
    """A synthetic-world layout (spec `world-image`) holding real Multi30K text: source and human
    German captions for train and val, no machine translations yet."""
    root = tmp_path / "world"
    text_dir = root / "worldimage" / "TextData"
    text_dir.mkdir(parents=True)
    write_world_split(text_dir, "train", 0)
    write_world_split(text_dir, "val", 2)
    return root
