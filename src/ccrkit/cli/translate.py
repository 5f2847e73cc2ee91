"""`ccrkit translate`: machine-translate a collection's captions into the data spec's layout."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "translate",
        help="translate caption sets (en -> xx, back-translation, translate-test) with MT",
        description="Translate the source captions of a data spec's splits into a target language "
        "(role mt, enc2xx) and, with --back, translate the MT back (role bt, enc2xx2enc, plus "
        "per-caption round-trip chrF beside the MT file) and the human target captions into "
        "English (role human_to_en, xx2enc). Backends: hf (a Hugging Face seq2seq model: "
        "opus-mt, NLLB-200, M2M100), file (existing translations aligned by caption id), "
        "synthetic (the synthetic world's MT). Translations are cached on disk, so an "
        "interrupted run resumes and repeated captions are translated once. Under torchrun "
        "(torchrun --nnodes N --nproc_per_node G -m ccrkit translate ...) every process "
        "translates its share and rank 0 writes the files.",
    )
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="config overrides, e.g. forward.decode.max_new_tokens=128")  # fmt: skip
    parser.add_argument("--config", metavar="NAME", help="YAML in configs/translate/ or a path")
    parser.add_argument(
        "--data", metavar="NAME", help="data spec name in configs/data/ or a YAML path"
    )
    parser.add_argument(
        "--root", type=Path, metavar="DIR", help="folder holding the collection folders"
    )
    parser.add_argument("--split", dest="splits", type=_splits, metavar="S1,S2",
                        help="splits to translate (default: train)")  # fmt: skip
    parser.add_argument("--src", metavar="LANG", help="source language (default: en)")
    parser.add_argument("--tgt", metavar="LANG", help="target language, e.g. de")
    parser.add_argument("--backend", metavar="NAME", help="hf (default), file or synthetic")
    parser.add_argument("--model", metavar="DIR_OR_ID",
                        help="hf: model directory or hub id; file: the translation file")  # fmt: skip
    parser.add_argument("--back", action="store_true",
                        help="also translate back: MT -> enc2xx2enc, human xx -> xx2enc")  # fmt: skip
    parser.add_argument(
        "--back-backend", metavar="NAME", help="backend of the back direction (implies --back)"
    )
    parser.add_argument("--back-model", metavar="DIR_OR_ID",
                        help="model (or file) of the back direction (default: --model; "
                        "implies --back)")  # fmt: skip
    parser.add_argument(
        "--beams", type=int, metavar="N", help="beam size (1 = greedy; default: the model's)"
    )
    parser.add_argument(
        "--batch-size", type=int, metavar="N", help="sentences per batch (default: 32)"
    )
    parser.add_argument("--max-input-tokens", type=int, metavar="N",
                        help="truncate longer inputs, with a warning (default: the model's limit)")  # fmt: skip
    parser.add_argument(
        "--max-new-tokens", type=int, metavar="N", help="longest output (default: 256)"
    )
    parser.add_argument("--device", help="auto (default: GPU if there is one), cpu, cuda, cuda:N")
    parser.add_argument("--cache", type=Path, metavar="FILE",
                        help="SQLite translation cache (default: ~/.cache/ccrkit/translations.sqlite)")  # fmt: skip
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="run directory (default: runs/translate-<time>)"
    )
    parser.add_argument("--dry-run", action="store_true",
                        help="show what would be translated and how much is cached; change nothing")  # fmt: skip
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--force", action="store_true", help="overwrite existing output files")
    existing.add_argument("--keep-existing", action="store_true",
                          help="keep existing output files (and read them for --back)")  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ccrkit.ranks import DistEnv, join_cpu_group
    from ccrkit.runs import default_run_dir, run_record
    from ccrkit.translate.config import load_translate_config
    from ccrkit.translate.pipeline import TranslationRun, dry_run
    from ccrkit.translate.report import plan_table, result_row, results_table

    config = load_translate_config(args.config, _flags(args), _back_flags(args), args.overrides)
    if args.dry_run:
        print(plan_table(dry_run(config)))
        return 0
    env = DistEnv.from_environ()  # under torchrun: the ranks share the work
    translation = TranslationRun(config)  # bad input fails here, before a run record exists
    translation.check_shards(env)
    join_cpu_group(env)
    if not env.is_main:  # rank 0 keeps the run record and prints the table
        translation.run(progress=not args.no_progress, env=env)
        return 0
    out = args.out or default_run_dir("translate")
    with run_record(out, "translate", config) as record:
        results, backends = translation.run(progress=not args.no_progress, env=env)
        record.metrics.update({f"{r.job.split}/{r.job.output_tag}": result_row(r) for r in results})
        record.extra["backends"] = backends
        record.extra["ranks"] = env.world_size
    print(results_table(results))
    print(f"\nrun record: {out / 'run.json'}")
    return 0


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    """The given flags, nested like `TranslateConfig` (flags left out do not override the YAML)."""
    top = {"data": args.data, "root": str(args.root) if args.root else None, "splits": args.splits,
           "src": args.src, "tgt": args.tgt, "cache": str(args.cache) if args.cache else None}  # fmt: skip
    flags: dict[str, Any] = {k: v for k, v in top.items() if v is not None}
    for name in ("force", "keep_existing"):
        if getattr(args, name):
            flags[name] = True
    if args.back or args.back_model or args.back_backend:
        flags["back_translate"] = True
    decode = {"beams": args.beams, "batch_size": args.batch_size,
              "max_input_tokens": args.max_input_tokens, "max_new_tokens": args.max_new_tokens}  # fmt: skip
    forward = {"backend": args.backend, "model": args.model, "device": args.device,
               "decode": {k: v for k, v in decode.items() if v is not None}}  # fmt: skip
    forward = {k: v for k, v in forward.items() if v not in (None, {})}
    if forward:
        flags["forward"] = forward
    return flags


def _back_flags(args: argparse.Namespace) -> dict[str, Any]:
    given = {"backend": args.back_backend, "model": args.back_model}
    return {k: v for k, v in given.items() if v is not None}


def _splits(text: str) -> list[str]:
    splits = [part.strip() for part in text.split(",") if part.strip()]
    if not splits:
        raise argparse.ArgumentTypeError("expected comma-separated split names, e.g. train,val")
    return splits
