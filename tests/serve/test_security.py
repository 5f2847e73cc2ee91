"""Hostile and broken requests: path traversal, bad parameters, tokens, fuzzing, wrong index."""

from __future__ import annotations

import json
import socket
import urllib.request
from urllib.parse import urlsplit

import pytest

from ccrkit.index import IndexMismatchError, build_index
from ccrkit.index.toy import ToyModel, make_toy_gallery
from ccrkit.serve import ServeSettings, create_app

SECRET = b"root:x:0:0:secret"


@pytest.fixture
def outside_secret(toy_index):
    """A file beside the collection (outside it) that must never be served."""
    path = toy_index[1].parent / "secret.png"
    path.write_bytes(SECRET)
    return path


@pytest.mark.parametrize(
    "target",
    [
        "/media/../secret.png",
        "/media/../../secret.png",
        "/media/%2e%2e/secret.png",
        "/media/%2e%2e%2fsecret.png",
        "/media/..%2Fsecret.png",
        "/media/%2E%2E/%2E%2E/etc/passwd",
        "/media//etc/passwd",
        "/media/%2Fetc%2Fpasswd",
        "/media/blue-star/../../secret.png",
        "/media/blue-star.png",  # a file inside the collection, but not an item id
        "/media/",
        "/static/../secret.png",
        "/static/%2e%2e/%2e%2e/secret.png",
    ],
)
def test_path_traversal_is_404(client, outside_secret, target):
    reply = client.get(target)
    assert reply.status == 404
    assert SECRET not in reply.body


def test_absolute_path_in_the_metadata_is_not_followed(
    toy_index, tmp_path, outside_secret, caller_for
):
    """Even a tampered database naming an absolute or '..' path serves nothing outside."""
    import shutil
    import sqlite3

    model, index_dir = toy_index
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy)
    with sqlite3.connect(copy / "items.sqlite") as db:
        db.execute("UPDATE items SET media = ? WHERE item_id = 'blue-star'",
                   [json.dumps([str(outside_secret)])])  # fmt: skip
        db.execute("UPDATE items SET media = ? WHERE item_id = 'blue-circle'",
                   [json.dumps(["../secret.png"])])  # fmt: skip
    caller = caller_for(create_app(model, copy))
    for item_id in ("blue-star", "blue-circle"):
        reply = caller.get(f"/media/{item_id}")
        assert reply.status == 404 and SECRET not in reply.body
    assert caller.get("/media/red-circle").status == 200


def test_symlink_out_of_the_collection_is_404(toy_index, tmp_path, outside_secret, caller_for):
    model, _index_dir = toy_index
    collection = tmp_path / "collection"
    gallery = make_toy_gallery(collection)
    build_index(model, gallery, tmp_path / "index", progress=False)
    picture = collection / "green-star.png"
    picture.unlink()
    picture.symlink_to(outside_secret)  # swapped for a link after the build
    inside = collection / "orange-star.png"
    inside.unlink()
    inside.symlink_to(collection / "red-circle.png")  # a link that stays inside is fine
    app = create_app(model, tmp_path / "index")
    caller = caller_for(app)
    assert caller.get("/media/green-star").status == 404
    assert SECRET not in caller.get("/media/green-star").body
    assert caller.get("/media/orange-star").status == 200


def test_build_refuses_pictures_outside_the_collection(tmp_path, outside_secret):
    gallery = make_toy_gallery(tmp_path / "collection")
    gallery.media["red-star"] = [outside_secret]
    with pytest.raises(ValueError, match=r"'red-star'.*outside the collection"):
        build_index(ToyModel(), gallery, tmp_path / "index", progress=False)
    assert not (tmp_path / "index").exists()


@pytest.mark.parametrize(
    ("target", "status", "message"),
    [
        ("/api/search", 400, "empty query"),
        ("/api/search?q=", 400, "empty query"),
        ("/api/search?q=%20%20%09", 400, "empty query"),
        ("/api/search?q=" + "x" * 1001, 413, "query too long"),
        ("/api/search?q=" + "x" * 1_000_000, 414, "query string too long"),
        ("/api/search?q=%ff%fe%fd", 400, "not valid UTF-8"),
        ("/api/search?q=ok&lang=%c3%28", 400, "not valid UTF-8"),
        ("/api/search?q=%c0%af", 400, "not valid UTF-8"),
        ("/api/search?q=star&k=0", 400, "k must be between 1 and 100"),
        ("/api/search?q=star&k=-5", 400, "k must be between 1 and 100"),
        ("/api/search?q=star&k=101", 400, "k must be between 1 and 100"),
        ("/api/search?q=star&k=99999999999999999999999", 400, "k must be between"),
        ("/api/search?q=star&k=ten", 400, "k: "),
        ("/api/search?q=star&k=1.5", 400, "k: "),
        ("/api/search?q=star&lang=klingon", 400, "unknown language 'klingon'"),
        ("/api/similar", 400, "give the id"),
        ("/api/similar?id=nope", 404, "no item with id 'nope'"),
        ("/api/similar?id=red-star&k=0", 400, "k must be between"),
        ("/api/nothing", 404, "Not Found"),
    ],
)
def test_bad_input_is_a_json_4xx(client, target, status, message):
    reply = client.get(target)
    assert reply.status == status, reply.body[:200]
    assert reply.headers["content-type"] == "application/json"
    assert message in reply.json()["error"]


def test_k_limit_is_configurable(make_client):
    caller = make_client(max_k=5, default_k=3)
    assert caller.get("/api/search?q=star&k=6").status == 400
    assert len(caller.get("/api/search?q=star").json()["results"]) == 3
    assert len(caller.get("/api/search?q=star&k=5").json()["results"]) == 5


def test_one_megabyte_query_over_real_http_is_a_json_4xx(live_server):
    host, port = urlsplit(live_server).hostname, urlsplit(live_server).port
    request = (
        b"GET /api/search?q=" + b"x" * 2**20 + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, port), timeout=20) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414"), head[:100]
    assert "query string too long" in json.loads(body)["error"]
    with urllib.request.urlopen(f"{live_server}/api/search?q=red%20star&k=1") as ok:
        assert json.load(ok)["results"][0]["id"] == "red-star"


def test_token_guards_every_api_route_and_media(toy_index, caller_for):
    model, index_dir = toy_index
    settings = ServeSettings(token="s3cret")
    caller = caller_for(create_app(model, index_dir, settings))
    for target in ("/api/search?q=star", "/api/info", "/api/health", "/api/similar?id=red-star",
                   "/api/openapi.json", "/media/blue-star", "/api/nothing"):  # fmt: skip
        missing = caller.get(target)
        assert missing.status == 401 and missing.json() == {"error": "missing or wrong API token"}
        wrong = caller.get(target, [(b"authorization", b"Bearer s3cre")])
        assert wrong.status == 401
    for credential in [(b"authorization", b"Bearer s3cret"), (b"x-api-token", b"s3cret"),
                       (b"cookie", b"theme=dark; ccrkit_token=s3cret")]:  # fmt: skip
        assert caller.get("/api/search?q=red%20star", [credential]).status == 200
    assert caller.get("/").status == 200  # the page itself asks for the token
    assert caller.get("/static/app.js").status == 200


def test_serve_reads_the_token_from_the_environment(toy_index, monkeypatch, caller_for):
    from ccrkit.serve import server

    captured = {}
    monkeypatch.setenv(server.TOKEN_ENV, "from-env")
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # serve_index sets it when unset
    monkeypatch.setattr("ccrkit.index.search.load_retrieval_model", lambda run_dir: toy_index[0])
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: captured.update(app=app, **kw))
    server.serve_index(toy_index[1], port=8123, checkpoint="any-run")
    caller = caller_for(captured["app"])
    assert captured["port"] == 8123 and captured["host"] == "127.0.0.1"
    assert caller.get("/api/health").status == 401
    assert caller.get("/api/health", [(b"x-api-token", b"from-env")]).status == 200


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (ToyModel(dim=32), "holds 64-d vectors but model 'toy-bag-of-concepts' encodes 32-d"),
        (ToyModel(model_id="other-run"), "built by model 'toy-bag-of-concepts', not by"),
    ],
)
def test_index_of_another_model_is_refused_at_start_up(toy_index, model, message):
    with pytest.raises(IndexMismatchError, match=message):
        create_app(model, toy_index[1])


@pytest.mark.parametrize("target", [b"/static?q=\xff", b"/api/search/?q=%ff", b"/?\xe3x=1"])
def test_a_non_utf8_query_on_any_path_is_a_400(client, target):
    """Starlette's slash redirect decodes the query as UTF-8: other bytes used to give a 500."""
    reply = client.get(target)
    assert reply.status == 400 and "not valid UTF-8" in reply.json()["error"]
