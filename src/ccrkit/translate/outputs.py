"""Turn a backend's outputs into a caption file of the data layer, and score it.

Every caption of the input gets the output tag (`<item>#enc2de#<n>`), in input order. What cannot
be written as is, is reported, never dropped silently: a caption without a translation is left out
(only a backend allowed to do so returns none), an empty translation is replaced by the source
text (the file stays readable; an untranslated caption is a kind of MT noise), and an input that
was cut to the model's limit is listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ccrkit.data import CaptionRecord, read_captions
from ccrkit.runs import write_atomic
from ccrkit.translate.backend import Output, TranslationError
from ccrkit.translate.quality import corpus_scores, item_references, sentence_chrf
from ccrkit.translate.roundtrip import roundtrip_path, write_roundtrip

SHOWN_IDS = 5


@dataclass
class Assembled:
    records: list[CaptionRecord] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # input ids without a translation
    empty: list[str] = field(default_factory=list)  # input ids whose translation was empty
    truncated: list[str] = field(default_factory=list)  # input ids cut to the model's limit
    failed: set[tuple[str, str]] = field(default_factory=set)  # (item, n) of the empty ones


def assemble(inputs: Sequence[CaptionRecord], outputs: Sequence[Output], tag: str) -> Assembled:
    result = Assembled()
    for record, output in zip(inputs, outputs, strict=True):
        if output.text is None:
            result.missing.append(record.cap_id)
            continue
        text = output.text
        if not text.strip():
            result.empty.append(record.cap_id)
            result.failed.add((record.item_id, record.n))
            text = record.text
        if "\n" in text or "\r" in text:
            raise TranslationError(f"the translation of '{record.cap_id}' contains a line break")
        if output.truncated:
            result.truncated.append(record.cap_id)
        cap_id = record.with_tag(tag)
        result.records.append(CaptionRecord(cap_id, record.item_id, tag, record.n, text))
    return result


def write_captions(path: Path, records: Sequence[CaptionRecord]) -> None:
    """One `<id> <text>` line per caption, written atomically (readers never see half a file)."""
    write_atomic(path, "".join(f"{r.cap_id} {r.text}\n" for r in records).encode("utf-8"))


def reference_scores(
    records: Sequence[CaptionRecord], reference_path: Path | None, lang: str
) -> dict | None:
    """BLEU/chrF of `records` against every reference caption of the same item, if any."""
    if reference_path is None or not reference_path.is_file():
        return None
    hypotheses, streams = item_references(records, read_captions(reference_path))
    if not hypotheses:
        return None
    return {**corpus_scores(hypotheses, streams, lang), "references": reference_path.name}


def roundtrip(
    mt_path: Path,
    back: Sequence[CaptionRecord],
    source_path: Path,
    lang: str,
    failed: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
) -> tuple[dict, Path]:
    """Per-caption chrF of the back-translation against its own source caption (same item, same
    n), written beside the MT file; returns the corpus scores of the trips that did not fail, the
    mean chrF over all, and that file.

    Captions in `failed` (item, n) came back empty from MT or back-translation and were replaced
    by their input; their trip proves nothing, so they score 0 (not the 100 of a copied source).
    """
    sources = {(r.item_id, r.n): r for r in read_captions(source_path)}
    mt_ids = {(r.item_id, r.n): r.cap_id for r in read_captions(mt_path)}
    rows, hypotheses, references = [], [], []
    for record in back:
        source = sources.get((record.item_id, record.n))
        if source is None:
            continue
        key = (record.item_id, record.n)
        if key in failed:
            rows.append((mt_ids[key], source.cap_id, 0.0))
            continue
        rows.append((mt_ids[key], source.cap_id, sentence_chrf(record.text, source.text)))
        hypotheses.append(record.text)
        references.append(source.text)
    out = roundtrip_path(mt_path)
    write_roundtrip(out, rows)
    if not rows:
        return {}, out
    scores: dict = corpus_scores(hypotheses, [references], lang) if hypotheses else {}
    scores["roundtrip_chrf_mean"] = round(sum(r[2] for r in rows) / len(rows), 2)
    scores["failed"] = len(rows) - len(hypotheses)
    return scores, out


def show_ids(ids: Sequence[str]) -> str:
    shown = ", ".join(f"'{i}'" for i in ids[:SHOWN_IDS])
    return shown + (f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else "")
