"""`ccrkit serve`: open an index, load the model its manifest names, run the app under uvicorn."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

TOKEN_ENV = "CCRKIT_API_TOKEN"
# Long enough for a URL that carries the longest accepted query, so the app (not the HTTP parser)
# answers an over-long one, with a JSON error.
MAX_REQUEST_HEAD_BYTES = 2 * 2**20


def serve_index(
    index_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    checkpoint: str | Path | None = None,
    **settings: object,
) -> None:
    import uvicorn

    from ccrkit.index.search import open_searcher
    from ccrkit.serve.app import create_app
    from ccrkit.serve.service import ServeSettings

    token = token or os.environ.get(TOKEN_ENV) or None
    config = ServeSettings(token=token, **settings)  # type: ignore[arg-type]
    searcher = open_searcher(index_dir, checkpoint, config.mmap)
    app = create_app(searcher.model, searcher.index, config)
    if token is None and not _is_loopback(host):
        print(f"warning: serving on {host} without an API token (--token or {TOKEN_ENV})",
              file=sys.stderr)  # fmt: skip
    print(f"serving {len(searcher.index)} items of {index_dir} at http://{host}:{port}/")
    uvicorn.run(app, host=host, port=port, log_level="info",
                h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES)  # fmt: skip


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
