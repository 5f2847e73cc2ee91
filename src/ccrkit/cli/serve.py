"""`ccrkit serve`: the search page and JSON API over an index built by `ccrkit index build`."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve an index: search page and JSON API",
        description="Serve an index folder over HTTP: / (search page), /api/search, "
        "/api/similar, /api/info, /api/health and /media/ID (pictures).",
    )
    parser.add_argument("--index", required=True, type=Path, metavar="INDEX_DIR",
                        help="an index folder written by `ccrkit index build`")  # fmt: skip
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8000, help="default: %(default)s")
    parser.add_argument(
        "--token",
        help="require this API token on /api and /media (default: $CCRKIT_API_TOKEN, else none)",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        metavar="RUN_DIR",
        help="model run directory (default: the one the manifest records)",
    )
    parser.add_argument("--max-k", type=int, default=100, help="largest k a request may ask for")
    parser.add_argument(
        "--threads", type=int, metavar="N",
        help="threads for query encoding and FAISS (default: all cores)",
    )  # fmt: skip
    parser.add_argument(
        "--mmap",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="memory-map the FAISS file (default: when it is over 256 MiB)",
    )
    parser.set_defaults(run=run)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from ccrkit.serve.server import serve_index

    serve_index(args.index, args.host, args.port, args.token, args.checkpoint, args.threads,
                max_k=args.max_k, mmap=args.mmap)  # fmt: skip
    return 0
