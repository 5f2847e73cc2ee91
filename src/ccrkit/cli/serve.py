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
        help="require this API token on /api and /media (default: $CCRKIT_API_TOKEN, else none); "
        "visible to every local user in the process list: prefer the variable or --token-file",
    )
    parser.add_argument(
        "--token-file", type=Path, metavar="FILE",
        help="read the API token from this file (keep it private: chmod 600)",
    )  # fmt: skip
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
        "--max-connections", type=int, default=256, metavar="N",
        help="open connections at once; more are answered 503 (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--header-timeout", type=float, default=10.0, metavar="SECONDS",
        help="time a client has to send a request head; then it is disconnected "
        "(default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--mmap",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="memory-map the FAISS file (default: when it is over 256 MiB)",
    )
    parser.set_defaults(run=run)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    import sys

    from ccrkit.serve.server import TOKEN_ENV, ServerLimits, read_token_file, serve_index

    token = args.token
    if token is not None and args.token_file is not None:
        raise ValueError("give the API token once: --token or --token-file")
    if token is not None:
        print(f"warning: --token is visible to every user of this machine in the process list; "
              f"set {TOKEN_ENV} or use --token-file instead", file=sys.stderr)  # fmt: skip
    if args.token_file is not None:
        token = read_token_file(args.token_file)
    limits = ServerLimits(args.header_timeout, max_connections=args.max_connections)
    serve_index(args.index, args.host, args.port, token, args.checkpoint, args.threads, limits,
                max_k=args.max_k, mmap=args.mmap)  # fmt: skip
    return 0
