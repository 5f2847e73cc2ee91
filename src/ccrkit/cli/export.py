"""`ccrkit export RUN_DIR --out DIR`: a trained run as a Hugging Face / sentence-transformers folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export",
        help="write a trained run as a folder transformers or sentence-transformers loads",
        description="Write the run's Hugging Face text encoder (trained weights and tokenizer, "
        "save_pretrained), its projection heads (projection.safetensors) and a model card "
        "(README.md: how to load it, the run's test metrics and config). With --format "
        "sentence-transformers, also the module files SentenceTransformer(DIR) reads. Needs a "
        "dual-encoder run (baseline, one_to_k) trained with text_encoder.name=hf.",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a training run folder")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder to write")
    parser.add_argument(
        "--format",
        choices=("hf", "sentence-transformers"),
        default="hf",
        help="hf: AutoModel/AutoTokenizer + projection; sentence-transformers: that plus the "
        "module files (default: %(default)s)",
    )
    parser.add_argument(
        "--which",
        choices=("best", "last"),
        default="best",
        help="checkpoint (default: %(default)s)",
    )
    parser.add_argument("--force", action="store_true", help="replace an earlier export in --out")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ccrkit.export import export_run

    result = export_run(args.run_dir, args.out, args.format, args.which, args.force)
    print(f"exported {args.run_dir} ({args.which}) as {result.format}: {result.dim}-d text "
          f"embeddings, {len(result.files)} files in {result.out}")  # fmt: skip
    print(f"model card: {result.out / 'README.md'}")
    return 0
