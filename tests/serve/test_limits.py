"""The server's bounds under a real uvicorn: request heads that never finish, too many connections,
a malformed body after the app started, and where the API token may come from (issue 23, items
2, 6 and 8)."""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from ccrkit.cli.main import main
from ccrkit.serve.server import ServerLimits

LIMITS = ServerLimits(header_timeout=1.0, max_connections=20)
HALF_HEAD = b"GET /api/health HTTP/1.1\r\nHost: test\r\nX-Slow: "  # never finished


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port  # type: ignore[return-value]


def closed_within(conn: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing `conn`, or None if it was still open after `seconds`."""
    conn.settimeout(0.2)
    received, deadline = b"", time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = conn.recv(4096)
        except TimeoutError:
            continue
        except ConnectionError:
            return received
        if not chunk:
            return received
        received += chunk
    return None


def status_of(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status
    except urllib.error.HTTPError as err:
        return err.code


def test_unfinished_heads_are_cut_and_connections_capped(start_server):
    url = start_server(LIMITS)
    slow = []
    for _ in range(40):  # twice the cap, each a request head that never ends
        conn = socket.create_connection(address(url))
        conn.sendall(HALF_HEAD)
        slow.append(conn)
    try:
        refused = [closed_within(conn, 0.5) for conn in slow[20:]]
        assert all(r is not None and (r == b"" or r.startswith(b"HTTP/1.1 503")) for r in refused)
        assert any(r and r.startswith(b"HTTP/1.1 503") for r in refused)
        started = time.monotonic()
        assert status_of(f"{url}/api/health") == 503  # full: an answer, not a hang
        assert time.monotonic() - started < 2
        held = [closed_within(conn, 3.0) for conn in slow[:20]]
        assert all(h is not None for h in held), "a half-sent request head held its connection"
        assert status_of(f"{url}/api/health") == 200  # the slots are free again
    finally:
        for conn in slow:
            conn.close()


def test_a_trickled_head_does_not_renew_the_deadline(start_server):
    url = start_server(LIMITS)
    with socket.create_connection(address(url)) as conn:
        conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: test\r\n")
        started = time.monotonic()
        try:
            for _ in range(20):  # a byte every 0.25 s for 5 s
                conn.sendall(b"X-Drip: 1\r\n"[:1])
                time.sleep(0.25)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert closed_within(conn, 1.0) is not None
        assert time.monotonic() - started < 3.5


def test_a_kept_alive_client_is_served_between_pauses(start_server):
    url = start_server(LIMITS)
    with socket.create_connection(address(url)) as conn:
        reader = conn.makefile("rb")
        for _ in range(4):
            conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: test\r\n\r\n")
            status = reader.readline()
            head = dict(line.split(b": ", 1) for line in iter(reader.readline, b"\r\n"))
            body = reader.read(int(head[b"content-length"]))
            assert status.startswith(b"HTTP/1.1 200") and json.loads(body)["status"] == "ok"
            time.sleep(0.6)  # under the 1 s head deadline between requests


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + (" traceback" if record.exc_info else ""))


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_a_malformed_chunked_body_is_a_400_without_tracebacks(start_server, token):
    url = start_server(token=token)
    records = Records()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "ccrkit.serve", "asyncio")]
    for logger in loggers:
        logger.addHandler(records)
    try:
        for target in (b"/api/search?q=star", b"/api/health", b"/", b"/media/red-star"):
            for method in (b"POST", b"GET"):
                with socket.create_connection(address(url)) as conn:
                    conn.sendall(method + b" " + target + b" HTTP/1.1\r\nHost: t\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\nhello\r\n")  # fmt: skip
                    answer = closed_within(conn, 5.0)
                assert answer is not None and answer.startswith(b"HTTP/1.1 4"), answer
        time.sleep(0.3)  # let the app's tasks finish
        assert status_of(f"{url}/api/health", {"x-api-token": token or ""}) == 200
    finally:
        for logger in loggers:
            logger.removeHandler(records)
    problems = [line for line in records.lines if "traceback" in line or "internal" in line]
    assert not problems, problems


@pytest.fixture
def captured_serve(toy_index, monkeypatch):
    """Runs `ccrkit serve` up to uvicorn.run and keeps the app and options it would serve."""
    captured: dict = {}
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.delenv("CCRKIT_API_TOKEN", raising=False)
    monkeypatch.setattr("ccrkit.index.search.load_retrieval_model", lambda run_dir: toy_index[0])
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: captured.update(app=app, **kw))
    return captured


def test_token_file_and_a_warning_for_a_token_in_the_process_list(
    toy_index, tmp_path, captured_serve, caller_for, capsys
):
    base = ["serve", "--index", str(toy_index[1]), "--checkpoint", "any-run"]
    assert main([*base, "--token", "on-the-command-line"]) == 0
    assert "--token is visible to every user of this machine" in capsys.readouterr().err
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file\n")
    token_file.chmod(0o600)
    assert main([*base, "--token-file", str(token_file)]) == 0
    assert capsys.readouterr().err == ""
    caller = caller_for(captured_serve["app"])
    assert caller.get("/api/health").status == 401
    assert caller.get("/api/health", [(b"x-api-token", b"from-a-file")]).status == 200
    token_file.chmod(0o644)
    assert main([*base, "--token-file", str(token_file)]) == 0
    assert "can be read by other users" in capsys.readouterr().err
    assert main([*base, "--token", "a", "--token-file", str(token_file)]) == 2
    assert "give the API token once" in capsys.readouterr().err


def test_serve_passes_its_limits_to_uvicorn(toy_index, captured_serve, caller_for):
    argv = ["serve", "--index", str(toy_index[1]), "--checkpoint", "any-run",
            "--max-connections", "7", "--header-timeout", "2.5"]  # fmt: skip
    assert main(argv) == 0
    protocol = captured_serve["http"]
    assert (protocol.max_connections, protocol.header_timeout) == (7, 2.5)
    assert captured_serve["limit_concurrency"] == 8 and captured_serve["timeout_keep_alive"] == 5
    caller_for(captured_serve["app"])  # closes the app's service
    assert main([*argv[:5], "--header-timeout", "0"]) == 2


def test_busy_answer_is_json():
    from ccrkit.serve.protocol import BUSY_BODY, BUSY_RESPONSE

    head, _, body = BUSY_RESPONSE.partition(b"\r\n\r\n")
    assert body == BUSY_BODY and json.loads(body)["error"].startswith("server busy")
    assert f"content-length: {len(body)}".encode() in head
