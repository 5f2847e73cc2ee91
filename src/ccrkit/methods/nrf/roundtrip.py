"""Round-trip chrF of every training pair, for NRF's `roundtrip` selector.

The translation stage writes `<mt file>.roundtrip.tsv` (`ccrkit translate ... --back`): sentence
chrF of each back-translation against its source. Here each training row gets its score from that
file; without it, the score is computed the same way (`ccrkit.translate.quality.sentence_chrf`)
from the back-translation file, or the error says which command writes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ccrkit.data.datasets import TrainingData, TrainingFiles, join_view, read_view
from ccrkit.data.errors import DataError
from ccrkit.data.spec import DataSpec
from ccrkit.translate.quality import sentence_chrf
from ccrkit.translate.roundtrip import read_roundtrip, roundtrip_path


def training_roundtrip_scores(
    train_set: TrainingData, lang: str, missing: str
) -> tuple[np.ndarray, str]:
    """(N,) round-trip chrF of the training rows' `mt:<lang>` captions, and where it came from."""
    files = _files_of(train_set)
    spec = files.spec
    tsv, bt_path = check_roundtrip_sources(spec, files.root, files.split, lang, missing)
    if tsv.is_file():
        return _from_file(files, read_roundtrip(tsv), spec.tag("mt", lang), tsv), str(tsv)
    scores = _computed(files, lang, bt_path)  # type: ignore[arg-type]
    return scores, f"computed: sentence chrF of {bt_path} against the sources (no {tsv.name})"


def check_roundtrip_sources(
    spec: DataSpec, root: str | Path, split: str, lang: str, missing: str
) -> tuple[Path, Path | None]:
    """The `.roundtrip.tsv` beside the MT file and the back-translation file; a `DataError`
    naming the command that writes them when neither gives the scores (`missing`: compute |
    error)."""
    mt_path = spec.caption_path(root, split, "mt", lang)
    if mt_path is None:
        raise DataError(f"data spec '{spec.name}' names no MT captions ('mt') for split '{split}'")
    tsv = roundtrip_path(mt_path)
    bt_path = spec.caption_path(root, split, "bt", lang)
    computable = missing == "compute" and bt_path is not None and bt_path.is_file()
    if not (tsv.is_file() or computable):
        raise DataError(_missing_message(spec, Path(root), split, lang, tsv, bt_path, missing))
    return tsv, bt_path


def _files_of(train_set: TrainingData) -> TrainingFiles:
    if not isinstance(train_set, TrainingFiles):
        raise DataError(
            "the roundtrip pair selector reads the training set's data spec (a TrainDataset "
            "with .spec, .root and .split); choose method.selector=fraction or similarity"
        )
    return train_set


def _from_file(
    train_set: TrainingFiles, scores: dict[str, float], tag: str, tsv: Path
) -> np.ndarray:
    ids = [record.with_tag(tag) for record in train_set.records]
    absent = [cap_id for cap_id in ids if cap_id not in scores]
    if absent:
        more = f" and {len(absent) - 1} more" if len(absent) > 1 else ""
        raise DataError(
            f"no round-trip score for MT caption '{absent[0]}'{more}; the file is out of date "
            "with the MT captions: rerun the back-translation (ccrkit translate ... --back)",
            tsv,
        )
    return np.array([scores[cap_id] for cap_id in ids], dtype=np.float64)


def _computed(train_set: TrainingFiles, lang: str, bt_path: Path) -> np.ndarray:
    key = f"bt:{lang}"
    if key in train_set.view_keys:
        back = train_set.texts("bt", lang)
    else:
        spec = train_set.spec
        other = read_view(spec, train_set.root, train_set.split, "bt", lang)
        back = join_view(train_set.records, other, spec.tag("bt", lang), bt_path)
    sources = train_set.texts("source")
    cache: dict[tuple[str, str], float] = {}
    for pair in zip(back, sources, strict=True):
        if pair not in cache:
            cache[pair] = sentence_chrf(*pair)
    return np.array([cache[pair] for pair in zip(back, sources, strict=True)], dtype=np.float64)


def _missing_message(
    spec: DataSpec, root: Path, split: str, lang: str, tsv: Path, bt_path: Path | None, missing: str
) -> str:
    command = (
        f"ccrkit translate --data {spec.name} --root {root} --split {split} --tgt {lang} "
        "--back --keep-existing"
    )
    have_bt = bt_path is not None and bt_path.is_file()
    why = (
        "method.selection.missing=error asks for the file itself"
        if have_bt
        else f"and there are no back-translations to compute it from ({bt_path or 'none in the spec'})"
    )
    return (
        f"NRF's roundtrip pair selector needs the round-trip chrF of the 'mt:{lang}' training "
        f"captions: {tsv} does not exist, {why}. Write it with `{command}` (with the "
        "--backend/--model of your MT system; it back-translates the existing MT and writes the "
        f"round-trip file), or choose another selector: method.selector=fraction|similarity|all"
    )
