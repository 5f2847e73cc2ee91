"""The FastAPI app: JSON search API, pictures, and the one-page front end.

`create_app(model, index_dir)` loads the index once, checks it was built by `model` (a clear
error at start-up otherwise) and returns an ASGI app; tests pass a fake model, `ccrkit serve`
the trained one. Routes only translate HTTP to `SearchService` calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from ccrkit import __version__
from ccrkit.index.model import RetrievalModel
from ccrkit.index.search import SearchIndex, TextSearcher
from ccrkit.serve import language
from ccrkit.serve.guard import Guard
from ccrkit.serve.service import RequestError, SearchService, ServeSettings, hit_json

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("ccrkit.serve")


def create_app(
    model: RetrievalModel, index: str | Path | SearchIndex, settings: ServeSettings | None = None
) -> FastAPI:
    settings = settings or ServeSettings()
    opened = index if isinstance(index, SearchIndex) else SearchIndex(index, settings.mmap)
    service = SearchService(TextSearcher(model, opened), settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The model, tokenizer and index are loaded and live as long as the server: moving them
        # out of the collector's reach keeps full collections (tens of ms over every object)
        # from stalling requests under load. So is the query-language model, loaded here
        # rather than on the first query.
        language.load()
        gc.collect()
        gc.freeze()
        yield
        gc.unfreeze()
        service.close()

    app = FastAPI(title="ccrkit search", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")  # fmt: skip
    app.state.service = service
    app.include_router(_api_routes(service), prefix="/api")
    _add_page_routes(app, service)
    _add_error_handlers(app)
    app.add_middleware(Guard, token=settings.token, max_query_bytes=settings.max_query_bytes)
    return app


def _api_routes(service: SearchService) -> APIRouter:
    api = APIRouter()

    @api.get("/health")
    def health() -> dict[str, object]:
        return {"status": "ok", "items": len(service.index)}

    @api.get("/info")
    def info() -> dict[str, object]:
        return service.info()

    @api.get("/search")
    async def search(q: str | None = None, k: int | None = None, lang: str | None = None):
        query = service.query(q, k, lang)
        hits = await asyncio.wrap_future(service.submit(query))
        return JSONResponse(service.answer(query, hits))

    @api.get("/similar")
    def similar(id: str | None = None, k: int | None = None):
        hits = service.similar(id, k)
        return JSONResponse({"id": id, "k": len(hits), "results": [hit_json(h) for h in hits]})

    return api


def _add_page_routes(app: FastAPI, service: SearchService) -> None:
    page = (STATIC / "index.html").read_text(encoding="utf-8")

    @app.get("/media/{item_id:path}", include_in_schema=False)
    def media(item_id: str) -> Response:
        content, kind = service.media(item_id)
        cache = {"cache-control": "private, max-age=3600"}
        if isinstance(content, Path):
            return FileResponse(content, media_type=kind, headers=cache)
        return Response(content, media_type=kind, headers=cache)

    @app.get("/", include_in_schema=False)
    def index_page() -> HTMLResponse:
        return HTMLResponse(page)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _add_error_handlers(app: FastAPI) -> None:
    """Every error is JSON `{"error": message}`; user mistakes are 4xx, never 500."""

    @app.exception_handler(RequestError)
    async def request_error(_: Request, err: RequestError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=err.status)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, err: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(err.detail)}, err.status_code, headers=err.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in err.errors()]
        return JSONResponse({"error": "; ".join(problems) or "invalid request"}, 400)

    @app.exception_handler(Exception)
    async def crashed(request: Request, err: Exception) -> JSONResponse:
        log.exception("internal error on %s", request.url.path)
        return JSONResponse({"error": "internal server error"}, 500)
