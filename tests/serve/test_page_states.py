"""The page's answers beyond a plain result list, in headless Chromium: "no good match" (the
index's calibrated threshold), a query in a language the model does not know, captions in the
query's language (Chinese and Japanese rendered), and the language menu kept after an error.

Screenshots go to $CCRKIT_SCREENSHOTS when set (docs/images/ was made that way), else tmp_path.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from ccrkit.index.toy import ToyModel
from ccrkit.serve import ServeSettings, create_app


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("CCRKIT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_page(browser, base: str, query: str, lang: str = ""):
    page = browser.new_page(viewport={"width": 1180, "height": 760})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(f"{base}/?q={quote(query)}" + (f"&lang={lang}" if lang else ""))
    page.wait_for_selector("#results li, #status.error")
    return page, errors


def wait_for_images(page, timeout: float = 10.0) -> None:
    """Poll (wait_for_function would need 'unsafe-eval', which the page's CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)"):
        assert time.monotonic() < deadline, "the pictures did not load"
        time.sleep(0.05)


def cjk_font(lang: str) -> str:
    """A font family fontconfig offers for `lang` ('' when none: the text would be boxes)."""
    try:
        found = subprocess.run(["fc-list", f":lang={lang}", "family"], capture_output=True,
                               text=True, timeout=20).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""
    return found.strip().splitlines()[0] if found.strip() else ""


def test_gibberish_gets_no_good_match(browser, live_server, shots):
    page, errors = open_page(browser, live_server, "qwxz blorp")
    assert page.text_content("#status") == "No good match for “qwxz blorp”"
    note = page.locator(".note.no-match")
    assert note.is_visible() and "below 0.787" in note.text_content()
    assert "weak" in page.get_attribute("#results", "class")
    wait_for_images(page)
    page.screenshot(path=str(shots / "search-no-match.png"))
    assert errors == []


def test_a_good_query_has_no_notes(browser, live_server):
    page, _ = open_page(browser, live_server, "ein roter Stern", "de")
    assert page.text_content("#status") == "20 results for “ein roter Stern”"
    assert page.locator(".note").count() == 0
    assert page.locator("#results li").first.get_attribute("data-id") == "red-star"
    assert page.locator("#results .caption").first.text_content() == "ein roter Stern"


def test_a_language_the_model_lacks_gets_a_note_and_its_own_captions(
    browser, toy_index, serve_app, shots
):
    _, index_dir = toy_index  # the same toy index, served by a model that knows de/en only
    base = serve_app(create_app(ToyModel(languages=["de", "en"]), index_dir, ServeSettings()))
    page, errors = open_page(browser, base, "un cercle jaune")
    note = page.locator(".note.language")
    assert note.is_visible()
    assert note.text_content().startswith("This looks like French, which the model was not")
    assert "It knows German and English" in note.text_content()
    first = page.locator("#results li").first
    assert first.get_attribute("data-id") == "yellow-circle"  # the toy still finds it
    caption = first.locator(".caption")
    assert caption.text_content() == "un cercle jaune" and caption.get_attribute("lang") == "fr"
    wait_for_images(page)
    page.screenshot(path=str(shots / "search-foreign-language.png"))
    assert errors == []


@pytest.mark.parametrize(
    ("query", "lang", "item", "caption"),
    [("红色的星星", "zh", "red-star", "红色的星星"), ("青い四角", "ja", "blue-square", "青い四角")],
)
def test_chinese_and_japanese_captions_render(
    browser, live_server, shots, query, lang, item, caption
):
    if not cjk_font(lang):  # .ci/run installs fonts-wqy-zenhei, so CI never skips
        if os.environ.get("CCRKIT_REQUIRE_BROWSER"):
            pytest.fail(f"no font for '{lang}': apt-get install fonts-wqy-zenhei")
        pytest.skip(f"no font for '{lang}' (apt-get install fonts-wqy-zenhei)")
    page, errors = open_page(browser, live_server, query, lang)
    first = page.locator("#results li").first
    assert first.get_attribute("data-id") == item
    assert first.locator(".caption").text_content() == caption
    assert first.locator(".caption").get_attribute("lang") == lang  # picks the CJK font
    wait_for_images(page)
    page.screenshot(path=str(shots / f"search-captions-{lang}.png"))
    assert errors == []


def test_the_language_menu_survives_an_error(browser, live_server, shots):
    page, errors = open_page(browser, live_server, "ein roter Stern", "xx")
    page.wait_for_selector("#lang option[value='de']", state="attached")
    assert "unknown language 'xx'" in page.text_content("#status")
    assert page.input_value("#lang") == ""  # "any language", not a blank menu
    codes = page.eval_on_selector_all("#lang option", "options => options.map(o => o.value)")
    assert codes == ["", "de", "en", "fr", "ja", "zh"]
    page.screenshot(path=str(shots / "search-error-menu.png"))
    page.select_option("#lang", "de")
    page.press("#q", "Enter")
    page.wait_for_selector("#results li[data-id='red-star']")
    assert page.text_content("#status") == "20 results for “ein roter Stern”"
    assert errors == []
