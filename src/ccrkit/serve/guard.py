"""An ASGI layer in front of the app: API token, raw query-string checks, security headers.

It sees every request before routing, so no route can forget the token, and it rejects query
strings that are too long or not UTF-8 with a JSON error before any parser turns their bytes
into replacement characters — on every path: Starlette's slash redirect (`/static` ->
`/static/`) decodes the query string as UTF-8 and failed with a 500 on other bytes.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import unquote_to_bytes

TOKEN_COOKIE = "ccrkit_token"
TOKEN_HEADER = b"x-api-token"
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
]

Scope = dict[str, Any]


def is_protected(path: str) -> bool:
    """Paths that need the token when one is set: the API and the pictures."""
    return any(path == p or path.startswith(p + "/") for p in ("/api", "/media"))


class Guard:
    def __init__(self, app: Any, token: str | None, max_query_bytes: int) -> None:
        self.app, self.max_query_bytes = app, max_query_bytes
        self.token = token.encode("utf-8") if token else None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_headers(send)
        problem = self._problem(scope)
        if problem is not None:
            await send_json_error(send, *problem)
            return
        await self.app(scope, receive, send)

    def _problem(self, scope: Scope) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        protected = is_protected(scope["path"])
        if protected and self.token is not None and not self._authorised(scope):
            return 401, "missing or wrong API token", [(b"www-authenticate", b"Bearer")]
        raw = scope.get("query_string", b"")
        if len(raw) > self.max_query_bytes:
            return (
                414,
                f"query string too long ({len(raw)} bytes; at most {self.max_query_bytes})",
                [],
            )
        bad = first_non_utf8_parameter(raw)
        if bad is not None:
            return 400, f"query parameter {bad!r} is not valid UTF-8", []
        return None

    def _authorised(self, scope: Scope) -> bool:
        assert self.token is not None
        offered = [value for value in _credentials(scope) if value]
        return any(hmac.compare_digest(value, self.token) for value in offered)


def first_non_utf8_parameter(raw: bytes) -> str | None:
    """The name of the first parameter whose name or percent-decoded value is not UTF-8."""
    for pair in raw.split(b"&"):
        name, _, value = pair.partition(b"=")
        for part in (name, value):
            try:
                unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                return unquote_to_bytes(name).decode("utf-8", "replace")[:40]
    return None


def _credentials(scope: Scope) -> list[bytes]:
    found = []
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            found.append(value[7:].strip())
        elif name == TOKEN_HEADER:
            found.append(value.strip())
        elif name == b"cookie":
            found.extend(_cookie_tokens(value))
    return found


def _cookie_tokens(header: bytes) -> list[bytes]:
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(header.decode("latin-1"))
    except CookieError:
        return []
    morsel = cookie.get(TOKEN_COOKIE)
    return [unquote_to_bytes(morsel.value)] if morsel is not None else []


def _with_headers(send: Any) -> Any:
    async def send_with_headers(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
        await send(message)

    return send_with_headers


async def send_json_error(
    send: Any, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error": message}).encode("utf-8")
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()), *(headers or [])],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
