"""`ccrkit serve`: open an index, load the model its manifest names, run the app under uvicorn."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

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
UVICORN_OPTIONS = {"http": "h11", "loop": "auto", "h11_max_incomplete_event_size": 2 * 2**20}


def serve_index(
    index_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    checkpoint: str | Path | None = None,
    threads: int | None = None,
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
    uvicorn.run(app, host=host, port=port, log_level="info", **UVICORN_OPTIONS)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
