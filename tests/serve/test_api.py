"""The HTTP API on the toy index: search in several languages, similar, info, media, batching."""

from __future__ import annotations

import asyncio
import io
import threading

import pytest
from PIL import Image

from ccrkit.index.search import Query
from ccrkit.index.toy import bag_vector, toy_caption
from ccrkit.serve.batching import MicroBatcher


@pytest.mark.parametrize(
    ("query", "lang", "expected"),
    [
        ("ein roter Stern", "de", "red-star"),
        ("ein blaues Quadrat", "de", "blue-square"),
        ("红色的星星", "zh", "red-star"),
        ("緑の三角", "ja", "green-triangle"),
        ("un cercle jaune", "fr", "yellow-circle"),
        ("a purple circle", None, "purple-circle"),
    ],
)
def test_search_finds_the_described_item(client, query, lang, expected):
    params = f"q={_quote(query)}&k=5" + (f"&lang={lang}" if lang else "")
    reply = client.get(f"/api/search?{params}")
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["query"] == query and body["lang"] == lang and body["k"] == 5
    top = body["results"][0]
    assert top["id"] == expected
    assert top["media_url"] == f"/media/{expected}"
    colour, shape = expected.split("-")  # captions in the query's language, when it is given
    shown = toy_caption(lang, colour, shape) if lang else f"a {colour} {shape}"
    assert top["captions"] == [shown] and top["caption_lang"] in {lang, lang or "en"}
    assert body["good_match"] is True and body["foreign_lang"] is False
    assert body["model_langs"] == sorted(body["model_langs"]) and body["model_langs"]
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 5


def test_scores_are_the_models_cosine_similarities(client):
    body = client.get("/api/search?q=a%20red%20star&k=3").json()
    query = bag_vector("a red star", 64)
    for result in body["results"]:
        expected = float(query @ bag_vector(result["captions"][0], 64))
        assert result["score"] == pytest.approx(expected, abs=1e-5)
    assert body["results"][0]["score"] == pytest.approx(1.0, abs=1e-5)


def test_default_k_and_lang_auto(client):
    body = client.get("/api/search?q=star&lang=auto").json()
    assert body["k"] == 20 and len(body["results"]) == 20 and body["lang"] is None


def test_similar_excludes_the_item_itself(client):
    body = client.get("/api/similar?id=red-circle&k=4").json()
    ids = [r["id"] for r in body["results"]]
    assert "red-circle" not in ids and len(ids) == 4
    # Items sharing a word of "a red circle" score 2/3, the others 1/3.
    assert all(r["score"] == pytest.approx(2 / 3, abs=1e-5) for r in body["results"])
    assert all("red" in i or "circle" in i for i in ids)


def test_info_and_health(client):
    info = client.get("/api/info").json()
    assert info["model"] == "toy-bag-of-concepts" and info["dim"] == 64 and info["items"] == 24
    assert info["languages"] == ["de", "en", "fr", "ja", "zh"]
    assert info["index"]["type"] == "flat" and info["index"]["recall_at_10"] is None
    assert info["index"]["search"].startswith("batched")  # the exact scan, bf16 or float32
    assert info["limits"]["max_k"] == 100
    assert client.get("/api/health").json() == {"status": "ok", "items": 24}


def test_media_serves_pictures_and_video_previews(client, toy_index):
    png = client.get("/media/blue-star")
    assert png.status == 200 and png.headers["content-type"] == "image/png"
    assert png.body == (toy_index[1].parent / "collection" / "blue-star.png").read_bytes()
    gif = client.get("/media/red-star")  # one of the two 4-frame "videos"
    assert gif.status == 200 and gif.headers["content-type"] == "image/gif"
    with Image.open(io.BytesIO(gif.body)) as preview:
        assert preview.n_frames == 4 and preview.is_animated
    search = client.get("/api/search?q=red%20star&k=1").json()["results"][0]
    assert search["kind"] == "video"


def test_page_and_static_files_are_served(client):
    page = client.get("/")
    assert page.status == 200 and b'id="q"' in page.body and b"/static/app.js" in page.body
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = client.get("/static/app.js")
    assert script.status == 200 and b"/api/search" in script.body


def test_concurrent_queries_share_model_calls(client):
    service = client.app.state.service
    gate = threading.Event()
    original = service.encoder.process

    def slow_first_batch(queries):
        gate.wait(5)  # hold the encoder so the other requests queue up behind the first
        return original(queries)

    service.encoder.process = slow_first_batch
    before = service.encoder.batches

    async def many():
        tasks = [asyncio.ensure_future(_search(client, f"{c} star")) for c in
                 ("red", "blue", "green", "yellow", "purple", "orange") * 3]  # fmt: skip
        await asyncio.sleep(0.2)
        gate.set()
        return await asyncio.gather(*tasks)

    tops = client.loop.run_until_complete(many())
    assert tops == [f"{c}-star" for c in ("red", "blue", "green", "yellow", "purple", "orange") * 3]
    assert service.encoder.batches - before <= 3  # 18 requests, at most a few encoder calls


def test_a_model_failure_is_a_500_and_the_server_recovers(client):
    service = client.app.state.service
    original = service.encoder.process

    def broken(queries):
        raise RuntimeError("model broke")

    service.encoder.process = broken
    reply = client.get("/api/search?q=star")
    assert reply.status == 500 and reply.json() == {"error": "internal server error"}
    service.encoder.process = original
    cancelled = service.submit(Query("blue star", None, 1))
    cancelled.cancel()  # a client that went away must not break the pipeline
    assert client.get("/api/search?q=red%20star&k=1").json()["results"][0]["id"] == "red-star"
    assert service.submit(Query("blue star", None, 1)).result(5)[0].item.item_id == "blue-star"


async def _search(client, text):
    reply = await client._call(_scope(client, f"/api/search?q={_quote(text)}&k=1"))
    return reply.json()["results"][0]["id"]


def _scope(client, target):
    path, _, query = target.partition("?")
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "root_path": "", "path": path, "raw_path": path.encode(),
            "query_string": query.encode(), "headers": [(b"host", b"test")],
            "client": ("127.0.0.1", 1), "server": ("test", 80)}  # fmt: skip


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def test_micro_batcher_batches_and_reports_errors():
    seen: list[int] = []
    gate = threading.Event()

    def square(items):
        gate.wait(5)
        seen.append(len(items))
        if -1 in items:
            raise ValueError("bad item")
        return [i * i for i in items]

    batcher = MicroBatcher(square, max_batch=4)
    futures = [batcher.submit(i) for i in range(9)]
    gate.set()
    assert [f.result(5) for f in futures] == [i * i for i in range(9)]
    assert sum(seen) == 9 and max(seen) <= 4 and len(seen) < 9
    failing = batcher.submit(-1)
    with pytest.raises(ValueError, match="bad item"):
        failing.result(5)
    assert batcher.submit(3).result(5) == 9  # the worker survives a failed batch
    batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit(1)


def test_micro_batcher_waits_for_stragglers_when_asked():
    batcher = MicroBatcher(lambda items: [len(items)] * len(items), max_batch=8, max_wait_s=0.2)
    first = batcher.submit(0)
    later = [batcher.submit(i) for i in range(3)]
    assert first.result(5) == 4 and [f.result(5) for f in later] == [4, 4, 4]
    batcher.close()
    assert batcher.batches == 1
