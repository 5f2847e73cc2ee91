"""Fixtures for the server tests: a toy index, raw ASGI requests, and a live uvicorn server."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

import pytest
import uvicorn

from ccrkit.index import build_index
from ccrkit.index.build import calibrate_on
from ccrkit.index.toy import ToyModel, make_toy_gallery
from ccrkit.serve import ServeSettings, create_app


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


class AsgiCaller:
    """Sends requests straight to an ASGI app: exact control of path bytes, fast for fuzzing."""

    def __init__(self, app: object) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    def request(
        self, method: str, target: bytes | str, headers: list[tuple[bytes, bytes]] = ()
    ) -> Reply:
        target = target.encode("latin-1") if isinstance(target, str) else target
        raw_path, _, query = target.partition(b"?")
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "root_path": "",
            "path": unquote(raw_path.decode("latin-1")), "raw_path": raw_path,
            "query_string": query, "headers": [(b"host", b"test"), *headers],
            "client": ("127.0.0.1", 40000), "server": ("test", 80),
        }  # fmt: skip
        return self.loop.run_until_complete(self._call(scope))

    def get(self, target: bytes | str, headers: list[tuple[bytes, bytes]] = ()) -> Reply:
        return self.request("GET", target, headers)

    async def _call(self, scope: dict) -> Reply:
        sent: list[dict] = []
        requested, done = False, asyncio.Event()

        async def receive() -> dict:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # like a server: the client "disconnects" once answered
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        try:
            await self.app(scope, receive, send)  # type: ignore[operator]
        except Exception:
            if not sent:  # Starlette re-raises after sending its 500; a server would log it
                raise
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
        return Reply(start["status"], headers, body)

    def close(self) -> None:
        self.loop.close()


@pytest.fixture(scope="module")
def toy_index(tmp_path_factory):
    """A built toy index (24 items, the first two are 4-frame videos; captions in five
    languages; its no-good-match threshold calibrated on its own captions) and its model."""
    root = tmp_path_factory.mktemp("toy")
    model = ToyModel()
    gallery = make_toy_gallery(root / "collection", videos=2)
    build_index(model, gallery, root / "index", progress=False,
                calibration=calibrate_on(model, gallery, 64, progress=False))  # fmt: skip
    return model, root / "index"


@pytest.fixture
def make_client(toy_index):
    """make_client(**settings) -> AsgiCaller over a fresh app on the toy index."""
    callers = []

    def make(**settings: object) -> AsgiCaller:
        model, index_dir = toy_index
        caller = AsgiCaller(create_app(model, index_dir, ServeSettings(**settings)))
        callers.append(caller)
        return caller

    yield make
    for caller in callers:
        caller.app.state.service.close()
        caller.close()


@pytest.fixture
def caller_for():
    """caller_for(app) -> AsgiCaller; the app's service is closed after the test."""
    callers = []

    def make(app: object) -> AsgiCaller:
        callers.append(AsgiCaller(app))
        return callers[-1]

    yield make
    for caller in callers:
        caller.app.state.service.close()
        caller.close()


@pytest.fixture
def client(make_client) -> AsgiCaller:
    return make_client()


@pytest.fixture
def serve_app() -> Iterator[object]:
    """serve_app(app, limits=None) -> base URL of an ASGI app under a real uvicorn, as `ccrkit
    serve` runs it (`ServerLimits`), on a free loopback port."""
    from ccrkit.serve.server import uvicorn_options

    running: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def start(app: object, limits: object = None) -> str:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        options = uvicorn_options(limits)  # type: ignore[arg-type]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", **options)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        running.append((server, thread, sock))
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield start
    for server, thread, sock in running:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def start_server(toy_index, serve_app) -> object:
    """start_server(limits=None, **settings) -> base URL of the toy app under a real uvicorn."""

    def start(limits: object = None, **settings: object) -> str:
        model, index_dir = toy_index
        return serve_app(create_app(model, index_dir, ServeSettings(**settings)), limits)

    return start


@pytest.fixture
def live_server(start_server) -> str:
    return start_server()


CHROMIUM = (
    os.environ.get("CCRKIT_CHROMIUM")
    or shutil.which("chromium")
    or shutil.which("chromium-browser")
)
LAUNCH_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
HOW_TO_INSTALL = (
    "browser test needs Chromium: apt-get install -y chromium (and pip install playwright)"
)


@pytest.fixture
def browser():
    if CHROMIUM is None:
        if os.environ.get("CCRKIT_REQUIRE_BROWSER"):  # set by .ci/run: CI must run this test
            pytest.fail(HOW_TO_INSTALL)
        pytest.skip(HOW_TO_INSTALL)
    sync_api = pytest.importorskip("playwright.sync_api", reason=HOW_TO_INSTALL)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_FLAGS
        )
        yield browser
        browser.close()
