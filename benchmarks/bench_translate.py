"""Speed of `ccrkit translate`'s engine: sentences/s of an hf model, and what the cache saves.

Run with `python benchmarks/bench_translate.py [--text FILE] [--sentences N] [--model DIR]`.
Without `--model` it builds a tiny random MarianMT (`ccrkit.translate.tiny`), so it runs offline;
the number then measures the pipeline (tokenise, generate, decode, cache), not a real model,
and depends on how long the random model's outputs are (`output_tokens_mean`, re-tokenised).
`--text` takes a plain-text file, one sentence per line (`.gz` allowed; e.g. the Multi30K
`task1/raw/val.en.gz`); by default numbered copies of the test fixtures' Multi30K captions.

Three passes over the same sentences, each through the SQLite cache:
1. cold: every distinct sentence translated (length-sorted batches);
2. warm: the same sentences again, all from the cache, the model not even loaded;
3. half new: half cached, half new sentences.
Writes the report to `runs/bench-translate/report.json`.
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

from ccrkit.runs import write_json_atomic
from ccrkit.translate import (
    BackendConfig,
    DecodeConfig,
    Segment,
    TranslationCache,
    build_backend,
    translate_segments,
)
from ccrkit.translate.tiny import build_tiny_marian

FIXTURE = Path(__file__).parents[1] / "tests/data/fixtures/VisualSearch/multi30k/TextData"
OUT_DIR = Path("runs/bench-translate")


def load_sentences(path: Path | None, count: int) -> list[str]:
    if path is None:
        base = [
            line.partition(" ")[2]
            for file in sorted(FIXTURE.glob("*.caption.txt"))
            for line in file.read_text(encoding="utf-8").splitlines()
        ]
        return [f"{i}. {base[i % len(base)]}" for i in range(count)]
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        lines = [line.strip() for line in handle if line.strip()]
    return lines[:count]


def run_pass(name, sentences, model, args, cache) -> dict:
    decode = DecodeConfig(batch_size=args.batch_size, beams=args.beams,
                          max_new_tokens=args.max_new_tokens)  # fmt: skip
    backend = build_backend(
        BackendConfig(model=str(model), decode=decode, device=args.device), "en", "de"
    )
    segments = [Segment(f"s{i}#enc#0", text) for i, text in enumerate(sentences)]
    started = time.perf_counter()
    outputs, stats = translate_segments(segments, backend, cache, progress=False)
    wall = time.perf_counter() - started
    lengths = [len(ids) for ids in backend.tokenizer([o.text or "" for o in outputs])["input_ids"]]
    return {
        "pass": name, "sentences": stats.segments, "cached": stats.cached,
        "translated": stats.translated, "batches": stats.batches,
        "load_s": round(stats.load_seconds, 3), "translate_s": round(stats.seconds, 3),
        "wall_s": round(wall, 3), "sentences_per_s": round(stats.sentences_per_s or 0.0, 1),
        "output_tokens_mean": round(sum(lengths) / max(1, len(lengths)), 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", type=Path, help="one sentence per line (.gz allowed)")
    parser.add_argument("--sentences", type=int, default=500)
    parser.add_argument("--model", type=Path, help="hf model directory (default: a tiny MarianMT)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--beams", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    sentences = load_sentences(args.text, args.sentences)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or build_tiny_marian(Path(tmp) / "opus-mt-en-de", sentences)
        with TranslationCache(Path(tmp) / "cache.sqlite") as cache:
            half = len(sentences) // 2
            rows = [
                run_pass("cold", sentences, model, args, cache),
                run_pass("warm (all cached)", sentences, model, args, cache),
                run_pass("half new", sentences[:half] + [f"new {s}" for s in sentences[half:]],
                         model, args, cache),
            ]  # fmt: skip
    header = list(rows[0])
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in header) + " |")
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    write_json_atomic(OUT_DIR / "report.json", {"settings": settings, "passes": rows})
    print(f"\nreport: {OUT_DIR / 'report.json'}")


if __name__ == "__main__":
    main()
