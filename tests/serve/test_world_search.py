"""End to end on the synthetic world: a trained run → `ccrkit index build` → the API and the page
answer a human German query from the world's test split with the picture it describes."""

from __future__ import annotations

from urllib.parse import quote_plus

import numpy as np
import pytest

from ccrkit.cli.main import main
from ccrkit.data import EvalDataset
from ccrkit.index.model import load_retrieval_model
from ccrkit.serve import ServeSettings, create_app


@pytest.fixture(scope="module")
def world_index(tiny_run, tiny_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("world-index") / "index"
    argv = ["index", "build", "--checkpoint", str(tiny_run), "--data", "world-image",
            "--split", "test", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0  # the data root comes from the run's own config
    return out


@pytest.fixture(scope="module")
def found_query(tiny_run, tiny_world):
    """A human German test caption that the trained model ranks first, with its item (the tiny
    run is weak; this checks that index and server return the model's own ranking)."""
    model = load_retrieval_model(tiny_run)
    data = EvalDataset("world-image", tiny_world, "test", lang="de")
    items = np.concatenate([model.encode_visual(b) for b in data.visual_batches(64)])
    queries = model.encode_texts(data.query_texts, "de")
    best = (queries @ items.T).argmax(axis=1)
    hits = np.flatnonzero(best == data.query_item)
    assert len(hits) > 0, "the tiny run ranks no German test query first"
    first = int(hits[0])
    return model, data.query_texts[first], data.item_ids[data.query_item[first]]


def test_the_api_answers_a_german_query_with_its_picture(world_index, found_query, caller_for):
    model, query, item = found_query
    client = caller_for(create_app(model, world_index, ServeSettings()))
    reply = client.get(f"/api/search?q={quote_plus(query)}&lang=de&k=5")  # ä, ß: percent-encoded
    assert reply.status == 200
    results = reply.json()["results"]
    assert results[0]["id"] == item
    media = client.get(results[0]["media_url"])
    assert media.status == 200 and media.body.startswith(b"\x89PNG")
    info = client.get("/api/info").json()
    assert info["items"] == 40 and {"de", "en"} <= set(info["languages"])


def test_the_page_shows_the_picture_a_german_query_describes(
    browser, world_index, found_query, serve_app, tmp_path
):
    model, query, item = found_query
    base = serve_app(create_app(model, world_index, ServeSettings()))
    page = browser.new_page(viewport={"width": 1180, "height": 820})
    page.goto(base + "/")
    page.wait_for_selector("#lang option[value='de']", state="attached")
    page.fill("#q", query)
    page.select_option("#lang", "de")
    page.press("#q", "Enter")
    first = page.locator("#results li").first
    first.wait_for()
    assert first.get_attribute("data-id") == item
    page.screenshot(path=str(tmp_path / "world-search.png"))


def test_index_build_with_a_data_root_relative_to_the_working_folder(
    tiny_run, tiny_world, tmp_path, monkeypatch
):
    """`make demo` passes `--data-root data/world`: the pictures are found from any cwd."""
    monkeypatch.chdir(tiny_world.parent)
    out = tmp_path / "index"
    argv = ["index", "build", "--checkpoint", str(tiny_run), "--data", "world-image",
            "--data-root", tiny_world.name, "--split", "test", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    manifest = (out / "manifest.json").read_text()
    assert str(tiny_world.resolve()) in manifest
