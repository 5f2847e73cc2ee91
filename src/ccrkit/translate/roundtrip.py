"""Round-trip scores beside an MT caption file: how well each translation survives the trip back.

`<name>.caption.txt` (role `mt`, tag `enc2xx`) gets `<name>.roundtrip.tsv`:

    mt_id<TAB>source_id<TAB>chrf
    1000092795.jpg#enc2de#0<TAB>1000092795.jpg#enc#0<TAB>61.42

`chrf` is sacrebleu's sentence chrF (0-100) of the back-translation (`enc2xx2enc`) against the
source caption: a per-pair MT quality signal that needs no human reference, the one noise-robust
methods use to select parallel data (NRF) and to analyse noise. Read it with `read_roundtrip` or,
through a data spec, `roundtrip_scores`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ccrkit.data import DataError, DataSpec
from ccrkit.data.text import iter_lines
from ccrkit.runs import write_atomic

SUFFIX = ".roundtrip.tsv"
HEADER = ("mt_id", "source_id", "chrf")


def roundtrip_path(mt_caption_path: str | Path) -> Path:
    """The round-trip file beside an MT caption file (`x.caption.txt` -> `x.roundtrip.tsv`)."""
    path = Path(mt_caption_path)
    stem = path.name.removesuffix(".txt").removesuffix(".caption")
    return path.with_name(stem + SUFFIX)


def write_roundtrip(path: str | Path, rows: Iterable[tuple[str, str, float]]) -> None:
    """Rows of (mt id, source id, chrF), written atomically."""
    lines = ["\t".join(HEADER)] + [
        f"{mt_id}\t{src_id}\t{score:.2f}" for mt_id, src_id, score in rows
    ]
    write_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"))


def read_roundtrip(path: str | Path) -> dict[str, float]:
    """MT caption id -> round-trip chrF, from a `.roundtrip.tsv` file."""
    path = Path(path)
    scores: dict[str, float] = {}
    for number, text in iter_lines(path):
        fields = text.split("\t")
        if number == 1:
            if tuple(fields) != HEADER:
                raise DataError(
                    f"expected the header '{' '.join(HEADER)}' (tab-separated)", path, 1
                )
            continue
        if len(fields) != len(HEADER):
            raise DataError(
                f"expected {len(HEADER)} tab-separated fields, got {len(fields)}", path, number
            )
        try:
            scores[fields[0]] = float(fields[2])
        except ValueError:
            raise DataError(f"chrF '{fields[2]}' is not a number", path, number) from None
    if not scores and not path.read_bytes().strip():
        raise DataError("empty file; expected a header line", path)
    return scores


def roundtrip_scores(spec: DataSpec, root: str | Path, split: str, lang: str) -> dict[str, float]:
    """The round-trip scores of a split's MT captions into `lang`, found through the data spec."""
    mt_path = spec.caption_path(root, split, "mt", lang)
    if mt_path is None:
        raise DataError(f"data spec '{spec.name}' has no MT captions for split '{split}'")
    return read_roundtrip(roundtrip_path(mt_path))
