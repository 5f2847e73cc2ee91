"""`ccrkit serve`: open an index, load the model its manifest names, run the app under uvicorn."""

from __future__ import annotations

import ipaddress
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOKEN_ENV = "CCRKIT_API_TOKEN"
# torch and faiss-cpu each bring an OpenMP runtime; with the default wait policy their idle
# threads spin and steal the few cores from each other and from the event loop (on 2 cores the
# p99 latency grew several-fold). Must be set before either library is first imported.
OPENMP_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}
# The HTTP parser is pinned to h11 (uvicorn would pick httptools when installed, which refuses a
# 1 MB URL with a plain-text 400) with a request head limit above any URL we reject, so the app
# itself answers an over-long query with a JSON error. The event loop is uvloop where it is
# installed (not on Windows): less CPU per request than asyncio's, which matters on 2 cores
# (make bench-serve, /api/health: 2,119 -> 2,756 requests/s in one paired run).
UVICORN_OPTIONS: dict[str, Any] = {
    "http": "h11", "loop": "auto", "h11_max_incomplete_event_size": 2 * 2**20,
}  # fmt: skip


@dataclass(frozen=True)
class ServerLimits:
    """How long a client may hold a connection without a request, and how many may be open.

    - `header_timeout` (10 s): to send a whole request head, from the connection or the previous
      response; trickled bytes do not renew it (a browser sends a head in milliseconds).
    - `keep_alive` (5 s): how long an idle kept-alive connection stays open (uvicorn's default).
    - `max_connections` (256): open connections at once; one more is answered 503 and closed,
      and requests beyond it are answered 503 (uvicorn's `limit_concurrency`). 256 keeps the
      server far below the usual 1,024 open files, with room for the index and the model.
    """

    header_timeout: float = 10.0
    keep_alive: int = 5
    max_connections: int = 256

    def __post_init__(self) -> None:
        if not self.header_timeout > 0:
            raise ValueError(f"--header-timeout must be > 0 seconds, got {self.header_timeout}")
        if self.max_connections < 1:
            raise ValueError(f"--max-connections must be >= 1, got {self.max_connections}")


def uvicorn_options(limits: ServerLimits | None = None) -> dict[str, Any]:
    """`uvicorn.Config` keywords of `ccrkit serve`: h11 with the bounds of `limits`."""
    from ccrkit.serve.protocol import bounded_h11

    limits = limits or ServerLimits()
    return {
        **UVICORN_OPTIONS,
        "http": bounded_h11(limits.header_timeout, limits.max_connections),
        "timeout_keep_alive": limits.keep_alive,
        "limit_concurrency": limits.max_connections + 1,  # uvicorn counts the asking one too
    }


def serve_index(
    index_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    checkpoint: str | Path | None = None,
    threads: int | None = None,
    limits: ServerLimits | None = None,
    **settings: object,
) -> None:
    """Serve `index_dir` until interrupted; `threads` caps torch's and FAISS's threads."""
    for name, value in OPENMP_ENV.items():
        os.environ.setdefault(name, value)
    import faiss
    import torch
    import uvicorn

    from ccrkit.index.search import open_searcher
    from ccrkit.serve.app import create_app
    from ccrkit.serve.service import ServeSettings

    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
        faiss.omp_set_num_threads(threads)
    token = token or os.environ.get(TOKEN_ENV) or None
    config = ServeSettings(token=token, **settings)  # type: ignore[arg-type]
    searcher = open_searcher(index_dir, checkpoint, config.mmap)
    app = create_app(searcher.model, searcher.index, config)
    if token is None and not _is_loopback(host):
        print(f"warning: serving on {host} without an API token (--token or {TOKEN_ENV})",
              file=sys.stderr)  # fmt: skip
    print(f"serving {len(searcher.index)} items of {index_dir} at http://{host}:{port}/")
    uvicorn.run(app, host=host, port=port, log_level="info", **uvicorn_options(limits))


def read_token_file(path: str | Path) -> str:
    """The API token in `path` (surrounding whitespace dropped); warns when others may read it."""
    path = Path(path)
    try:
        token = path.read_text(encoding="utf-8").strip()
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: cannot read the token file ({err})") from None
    if not token:
        raise ValueError(f"{path}: the token file is empty")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        print(f"warning: {path} can be read by other users; `chmod 600 {path}`", file=sys.stderr)
    return token


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
