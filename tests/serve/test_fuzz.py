"""Fuzzing every route, with and without the API token: no 5xx, and no byte of a file outside the
collection, for malformed requests straight to the app and for malformed HTTP over a real server.

Bounded for CI: 2 x 5,000 requests to the app and 2 x 400 raw HTTP exchanges (about 20 s on 2
busy cores). The routes come from the app itself, so a route added later is fuzzed too.
"""

from __future__ import annotations

import json
import os
import random
import socket
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from ccrkit.serve import ServeSettings, create_app

SECRET = b"root:x:0:0:secret-outside-the-collection"
PASSWD = Path("/etc/passwd")
TOKEN = "s3cret-fuzz"
NAMES = ["q", "k", "lang", "id", "", "Q", "q[]", "%00", "k%20", "token"]
VALUES = ["", "0", "-1", "1e9", "NaN", "inf", "99999999999999999999", "%ff", "%c3", "%00",
          "%e2%80%ae", "red star", "%F0%9F%98%80", "..%2f..%2f", "<script>", "'; DROP TABLE items;--",
          "auto", "de", "zh", "x" * 5000, "%" , "%g1", "+", "&&", "==", "red-star",
          "../secret.png", "/etc/passwd"]  # fmt: skip
PARAMETER_VALUES = ["red-star", "blue-circle", "nope", "..", "../secret.png", "%2e%2e%2fsecret.png",
                    "..%2F..%2Fsecret.png", "/etc/passwd", "%2Fetc%2Fpasswd", "red-star/../../secret.png",
                    "app.js", "../../../../etc/passwd", "%00", "a" * 2000, "index.html",
                    "%c0%ae%c0%ae/secret.png"]  # fmt: skip
WRONG_CREDENTIALS = [(b"authorization", b"Bearer"), (b"authorization", b"Bearer s3cret-fuz"),
                     (b"cookie", b"ccrkit_token=%ff;;="), (b"x-api-token", b""), (b"cookie", b'"\\'),
                     (b"authorization", b"Basic czNjcmV0LWZ1eno=")]  # fmt: skip
RIGHT_CREDENTIALS = [(b"authorization", f"Bearer {TOKEN}".encode()),
                     (b"x-api-token", TOKEN.encode()),
                     (b"cookie", f"theme=1; ccrkit_token={TOKEN}".encode())]  # fmt: skip


@pytest.fixture
def secret_beside_the_collection(toy_index):
    """A file next to the collection (outside it), which must never be served."""
    path = toy_index[1].parent / "secret.png"
    path.write_bytes(SECRET)
    yield path
    path.unlink()


def leaked(body: bytes) -> bool:
    outside = PASSWD.read_bytes()[:64] if PASSWD.is_file() else b"\0no passwd\0"
    return SECRET in body or outside in body


def route_paths(app: object) -> list[str]:
    """Every route of the app (its OpenAPI paths and its top-level routes and mounts), with each
    path parameter filled by a hostile or plain value."""
    paths = []
    templates = [*app.openapi()["paths"], *(getattr(r, "path", None) for r in app.routes)]  # type: ignore[attr-defined]
    for template in filter(None, templates):
        if "{" in template:
            head = template.split("{", 1)[0]
            paths += [head + value for value in PARAMETER_VALUES]
        else:
            paths.append(template or "/")
        paths += [template + "/", template + "/app.js", template + "/../secret.png"]
    return sorted(set(paths))


def malformed_request(
    rng: random.Random, paths: list[str], token: str | None
) -> tuple[str, bytes, list[tuple[bytes, bytes]]]:
    method = rng.choice(["GET", "GET", "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"])
    path = rng.choice(paths)
    if rng.random() < 0.4:
        path += quote(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12))), safe="/%.")
    pairs = [f"{rng.choice(NAMES)}={rng.choice(VALUES)}" for _ in range(rng.randrange(0, 5))]
    query = "&".join(pairs)
    if rng.random() < 0.2:
        query += "".join(rng.choice("%&=+;#?/\\") for _ in range(rng.randrange(1, 6)))
    raw = (path + ("?" + query if query else "")).encode("latin-1", "replace")
    if rng.random() < 0.1:
        raw += bytes(rng.randrange(128, 256) for _ in range(4))  # raw, unencoded high bytes
    headers = []
    if token is not None and rng.random() < 0.6:
        headers.append(rng.choice(RIGHT_CREDENTIALS))
    if rng.random() < 0.3:
        headers.append(rng.choice([*WRONG_CREDENTIALS, (b"x-api-token", os.urandom(8))]))
    return method, raw, headers


@pytest.mark.parametrize("token", [None, TOKEN])
def test_fuzz_every_route_in_the_app(toy_index, caller_for, secret_beside_the_collection, token):
    model, index_dir = toy_index
    app = create_app(model, index_dir, ServeSettings(token=token))
    client, paths = caller_for(app), route_paths(app)
    assert {"/api/search", "/api/similar", "/api/info", "/api/health", "/"} <= set(paths)
    rng = random.Random(1234 if token is None else 4321)
    statuses: dict[int, int] = {}
    for _ in range(5_000):
        method, target, headers = malformed_request(rng, paths, token)
        reply = client.request(method, target, headers)
        statuses[reply.status] = statuses.get(reply.status, 0) + 1
        assert reply.status < 500, (method, target, headers, reply.body[:300])
        assert not leaked(reply.body), (method, target)
        if reply.status >= 400 and urlsplit(target.decode("latin-1")).path.startswith("/api"):
            assert "error" in json.loads(reply.body)
    assert sum(n for s, n in statuses.items() if s >= 400) > 2_000  # mostly rejected, as meant
    assert statuses.get(200, 0) > 50  # and some got through to search, similar and media
    if token is not None:
        assert statuses.get(401, 0) > 500
    auth = [RIGHT_CREDENTIALS[0]] if token else []
    after = client.get("/api/search?q=ein%20gr%C3%BCnes%20Dreieck&k=1&lang=de", auth).json()
    assert after["results"][0]["id"] == "green-triangle"  # still answers correctly


def raw_exchange(rng: random.Random, paths: list[str], token: str | None) -> bytes:
    """One malformed HTTP/1.1 exchange: odd request lines, headers and bodies."""
    path = rng.choice(paths).encode("latin-1", "replace")
    if rng.random() < 0.5:
        path += b"?q=" + quote(rng.choice(VALUES)).encode() + b"&id=red-star"
    method = rng.choice([b"GET"] * 6 + [b"POST", b"PUT", b"HEAD", b"G\x00T", b"GET GET", b"\xff"])
    version = rng.choice([b"HTTP/1.1"] * 6 + [b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1x", b""])
    lines = [method + b" " + path + b" " + version, b"Host: fuzz"]
    if token is not None and rng.random() < 0.6:
        name, value = rng.choice(RIGHT_CREDENTIALS)
        lines.append(name + b": " + value)
    extra = rng.choice([
        [b"Transfer-Encoding: chunked"], [b"Content-Length: 5"], [b"Content-Length: -1"],
        [b"Content-Length: 3", b"Content-Length: 9"], [b"Transfer-Encoding: gzip, chunked"],
        [b"X-Long: " + b"a" * rng.randrange(100, 70_000)], [b"Bad Header Name: x"], [b"\x00: \x00"],
        [b"Expect: 100-continue", b"Content-Length: 4"], [b"Connection: keep-alive"], [], [], [],
    ])  # fmt: skip
    body = rng.choice([b"", b"", b"ZZZ\r\nhello\r\n", b"5\r\nhello\r\n0\r\n\r\n", b"hello",
                       b"0\r\n\r\nGET /api/health HTTP/1.1\r\nHost: x\r\n\r\n", os.urandom(20)])  # fmt: skip
    return b"\r\n".join([*lines, *extra, b"Connection: close", b"", b""]) + body


@pytest.mark.parametrize("token", [None, TOKEN])
def test_fuzz_raw_http_over_a_real_server(
    toy_index, serve_app, secret_beside_the_collection, token
):
    model, index_dir = toy_index
    app = create_app(model, index_dir, ServeSettings(token=token))
    base = serve_app(app)
    host, port = urlsplit(base).hostname, urlsplit(base).port
    rng, paths = random.Random(99 if token is None else 77), route_paths(app)
    seen: dict[int, int] = {}
    for _ in range(400):
        with socket.create_connection((host, port), timeout=10) as conn:
            try:
                conn.sendall(raw_exchange(rng, paths, token))
                conn.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may refuse before reading it all
            answer = b""
            try:
                while chunk := conn.recv(65536):
                    answer += chunk
            except ConnectionResetError:
                pass
        assert not leaked(answer)
        for status_line in answer.split(b"HTTP/1.1 ")[1:]:  # every response, pipelined too
            status = int(status_line[:3])
            seen[status] = seen.get(status, 0) + 1
            assert status < 500, answer[:300]
    assert seen.get(400, 0) > 50 and seen.get(200, 0) > 0  # some well-formed ones got through
