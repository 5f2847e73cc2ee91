"""uvicorn's h11 protocol with the bounds it lacks: a deadline for every request head, a cap on
open connections, and no traceback when a request turns out malformed after it was dispatched.

uvicorn (0.55, `uvicorn.protocols.http.h11_impl`) arms its only timer, `timeout_keep_alive`,
after a response, and cancels it on any byte received; nothing bounds how long a client may take
to send a request head, nor how many connections stay open. A client that opens connections and
never finishes a head holds each one (and its file descriptor) forever: 1,100 such connections
exhausted a 1,024-descriptor limit and made every real request fail. This subclass:

- gives each request head `header_timeout` seconds, counted from the connection (or from the
  previous response on a kept-alive connection) and not renewed by trickled bytes; a connection
  that misses it is closed. It also closes a connection that keeps sending a body nobody reads.
- answers a connection beyond `max_connections` with 503 at once and closes it, so descriptors
  stay bounded; uvicorn's `limit_concurrency` (set one above it by `ccrkit serve`) answers
  503 for requests beyond it.
- when h11 finds a request malformed after the app already started on it (a broken chunked body),
  uvicorn sends its 400 and the app's own answer then raised inside h11 ("can't handle event type
  Response ... MUST_CLOSE") with two tracebacks; here the app sees a disconnected client instead.

The class is passed to uvicorn as its `http` protocol (`bounded_h11`); a reverse proxy remains the
right front for a server facing the internet (docs/serving.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

BUSY_BODY = b'{"error": "server busy: too many open connections; retry shortly"}'
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"retry-after: 1\r\nconnection: close\r\ncontent-length: "
    + str(len(BUSY_BODY)).encode()
    + b"\r\n\r\n"
    + BUSY_BODY
)


class BoundedH11Protocol(H11Protocol):
    header_timeout: float = 10.0
    max_connections: int = 256

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._refused = len(self.connections) > self.max_connections
        if self._refused:
            self.logger.warning("over %d open connections: answered 503", self.max_connections)
            transport.write(BUSY_RESPONSE)
            transport.close()
            return
        self._arm_deadline()

    def data_received(self, data: bytes) -> None:
        if not self._refused:  # a refused connection's request is not read
            super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle and not self.cycle.response_complete:
            self._cancel_deadline()  # a whole request head arrived: the app has it now

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm_deadline()  # the next request head, on a kept-alive connection

    def send_400_response(self, msg: str) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's answer, if it comes, goes nowhere
            cycle.message_event.set()
            if cycle.response_started:  # too late for a 400: just end the connection
                self.transport.close()
                return
        super().send_400_response(msg)

    def _arm_deadline(self) -> None:
        self._cancel_deadline()
        self._deadline = self.loop.call_later(self.header_timeout, self._on_deadline)

    def _cancel_deadline(self) -> None:
        deadline = getattr(self, "_deadline", None)
        if deadline is not None:
            deadline.cancel()
            self._deadline = None

    def _on_deadline(self) -> None:
        self._deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; its response re-arms the deadline
        if not self.transport.is_closing():
            self.transport.close()


def bounded_h11(header_timeout: float, max_connections: int) -> type[BoundedH11Protocol]:
    """The protocol class with these bounds, for `uvicorn.Config(http=...)`."""
    attributes: dict[str, Any] = {
        "header_timeout": float(header_timeout),
        "max_connections": int(max_connections),
    }
    return type("BoundedH11Protocol", (BoundedH11Protocol,), attributes)
