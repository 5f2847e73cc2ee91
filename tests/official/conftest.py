"""tests/official: the reference of the official NRCCR forward (`nrccr_reference`) importable, a
tiny `--text-model` folder, one torch thread."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "models"))  # tinymodels

WORDS = ["ein", "hund", "läuft", "über", "die", "wiese", "zwei", "kinder", "spielen", "am",
         "strand", "a", "dog", "runs", "two", "children", "play", "on", "the", "beach", "."]  # fmt: skip


@pytest.fixture(scope="session")
def text_model(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide BERT folder with a lower-cased WordPiece vocabulary (mBERT's stand-in)."""
    from tinymodels import tiny_bert

    return tiny_bert(tmp_path_factory.mktemp("mbert"), WORDS)
