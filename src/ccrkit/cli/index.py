"""`ccrkit index build|search`: a FAISS index of a gallery encoded by a trained model, and search."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "index",
        help="build or search a FAISS index of a gallery",
        description="Encode a data set split with a trained model into a FAISS index (plus item "
        "metadata and a manifest), or search one from the command line.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add_build(actions)
    _add_search(actions)


def _add_build(actions: argparse._SubParsersAction) -> None:
    build = actions.add_parser(
        "build", help="encode a gallery and write an index folder",
        description="Encode every item of a split with the run's visual encoder and write "
        "index.faiss, items.sqlite, manifest.json and run.json into --out (atomically).",
    )  # fmt: skip
    build.add_argument(
        "--checkpoint",
        required=True,
        type=Path,
        metavar="RUN_DIR",
        help="training run directory (config + safetensors)",
    )
    build.add_argument("--data", required=True, metavar="NAME", help="data spec name or path")
    build.add_argument(
        "--root",
        type=Path,
        metavar="DIR",
        help="folder holding the collection folders (default: the run's data.root)",
    )
    build.add_argument("--data-root", dest="root", type=Path, help=argparse.SUPPRESS)  # old name
    build.add_argument("--split", default="test", help="split to index (default: %(default)s)")
    build.add_argument("--out", required=True, type=Path, metavar="INDEX_DIR")
    build.add_argument(
        "--config",
        metavar="NAME",
        help="index config in configs/index (flat, flat16, ivfpq, hnsw, auto) or a YAML path "
        "(default: flat; auto when --max-memory or --target-recall is given)",
    )
    build.add_argument(
        "--max-memory", metavar="SIZE",
        help="memory the loaded index may take, e.g. 2GB: picks the index type and its bytes "
        "per item (the float16 vector store stays on disk, mapped)",
    )  # fmt: skip
    build.add_argument(
        "--target-recall", type=float, metavar="R",
        help="tune the search knobs to the cheapest that reach this recall@10 (with 95 %% "
        "confidence over the sampled items), e.g. 0.95",
    )  # fmt: skip
    build.add_argument("--force", action="store_true", help="replace an existing index at --out")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    build.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="config overrides, e.g. type=hnsw ef_search=128 (short for params.ef_search=128)",
    )
    build.set_defaults(run=run_build)  # fmt: skip


def _add_search(actions: argparse._SubParsersAction) -> None:
    search = actions.add_parser("search", help="print the top-k items for text queries")
    search.add_argument("--index", required=True, type=Path, metavar="INDEX_DIR",
                        help="an index folder written by `ccrkit index build`")  # fmt: skip
    what = search.add_mutually_exclusive_group(required=True)
    what.add_argument("--query", help="one query")
    what.add_argument("--queries", type=Path, metavar="FILE", help="UTF-8 file, one query a line")
    search.add_argument("--lang", help="language hint of the queries (default: none)")
    search.add_argument(
        "--k", type=int, default=10, help="results per query (default: %(default)s)"
    )
    search.add_argument(
        "--checkpoint",
        type=Path,
        metavar="RUN_DIR",
        help="model run directory (default: the one the manifest records)",
    )
    search.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    search.set_defaults(run=run_search)  # fmt: skip


def run_build(args: argparse.Namespace) -> int:
    from ccrkit.index.build import build_from_checkpoint
    from ccrkit.index.config import load_index_config

    config, _ = load_index_config(_config_name(args), _overrides(args))
    m = build_from_checkpoint(
        args.checkpoint, args.data, args.root, args.split, args.out, config, args.force,
        progress=not args.no_progress,
    )  # fmt: skip
    recall = "exact" if m.recall_at_10 is None else f"recall@10 {m.recall_at_10:.4f} vs exact"
    print(f"indexed {m.count} items ({m.dim}-d, {m.factory}, {recall}) in {m.build_seconds:.1f} s")
    if m.score_threshold is not None:
        c = m.calibration
        print(f"'no good match' below score {m.score_threshold:.4f} (from {c['queries']} "
              f"{c['split']} captions in {', '.join(c['langs'])}: {c['kept']:.0%} of true matches "
              f"reach it, {c['flagged']:.0%} of best wrong matches do not)")  # fmt: skip
    print(f"search: {_search_summary(m)}")
    print(f"index: {args.out}\nserve it: ccrkit serve --index {args.out}")
    return 0


def _config_name(args: argparse.Namespace) -> str:
    if args.config:
        return args.config
    return "auto" if args.max_memory or args.target_recall is not None else "flat"


def _overrides(args: argparse.Namespace) -> list[str]:
    extra = [f"max_memory={args.max_memory}"] if args.max_memory else []
    if args.target_recall is not None:
        extra.append(f"target_recall={args.target_recall}")
    return [*args.overrides, *extra]


def _search_summary(m: object) -> str:
    from ccrkit.index.plan import show_bytes

    knobs = ", ".join(f"{k}={v}" for k, v in m.search_params.items()) or "exhaustive"
    rerank = f"; top {m.rerank} re-scored from {m.store}" if m.rerank else ""
    return f"{knobs}{rerank}; index {show_bytes(m.index_bytes)} in memory"


def run_search(args: argparse.Namespace) -> int:
    from ccrkit.index.search import Query, format_hits, language_hint, open_searcher, read_queries

    if args.k < 1:
        raise ValueError(f"--k must be >= 1, got {args.k}")
    texts = [args.query] if args.query is not None else read_queries(args.queries)
    if not all(text.strip() for text in texts):
        raise ValueError("--query is empty")
    searcher = open_searcher(args.index, args.checkpoint)
    lang = language_hint(args.lang, searcher.model.languages)
    threshold = searcher.index.manifest.score_threshold
    for start in range(0, len(texts), 64):
        chunk = texts[start : start + 64]
        for text, hits in zip(
            chunk, searcher.search_many([Query(t, lang, args.k) for t in chunk]), strict=True
        ):
            if args.json:
                found = [{"id": h.item.item_id, "score": round(h.score, 6)} for h in hits]
                good = None if threshold is None or not hits else hits[0].score >= threshold
                reply = {"query": text, "good_match": good, "results": found}
                print(json.dumps(reply, ensure_ascii=False))
            else:
                print(format_hits(text, hits, lang, threshold) + "\n")
    searcher.index.close()
    return 0
