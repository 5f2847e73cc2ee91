"""The web page in headless Chromium: type a German query, see the described picture first.

Needs Debian's `chromium` (apt-get install chromium) and the `playwright` Python package (in the
dev extra); without them the test skips and says so. Screenshots land in the test's tmp dir.
"""

from __future__ import annotations

import time


def test_german_query_shows_the_described_picture(browser, live_server, tmp_path):
    page = browser.new_page(viewport={"width": 1180, "height": 820})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(live_server + "/")
    page.wait_for_selector("#lang option[value='de']", state="attached")
    page.locator("main").click()  # focus away from the (autofocused) search box
    assert page.evaluate("document.activeElement.id") != "q"
    page.keyboard.press("/")  # the keyboard shortcut focuses the search box
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("ein grünes Dreieck")
    page.select_option("#lang", "de")
    page.press("#q", "Enter")
    first = page.locator("#results li").first
    first.wait_for()
    assert first.get_attribute("data-id") == "green-triangle"
    assert "ein grünes Dreieck" in page.text_content("#status")
    _wait_until(page, "[...document.images].every(img => img.complete && img.naturalWidth > 0)")
    assert page.locator("#results li").count() == 20
    assert "q=ein+gr%C3%BCnes+Dreieck" in page.url and "lang=de" in page.url
    page.screenshot(path=str(tmp_path / "search-page.png"))

    first.locator("button.similar").focus()  # "more like this" from the keyboard
    page.keyboard.press("Enter")
    page.wait_for_url("**like=green-triangle**")
    _wait_until(page, "document.querySelector('#results li')?.dataset.id !== 'green-triangle'")
    ids = page.eval_on_selector_all("#results li", "items => items.map(i => i.dataset.id)")
    # "a green triangle" shares two of its three words with these (score 2/3); "an orange
    # triangle" shares one, like every "a <colour> <shape>", so it ranks among equals after them.
    sharing_two_words = {f"green-{s}" for s in ("star", "square", "circle")} | {
        f"{c}-triangle" for c in ("red", "blue", "yellow", "purple")
    }
    assert "green-triangle" not in ids and set(ids[:7]) == sharing_two_words
    assert errors == []


def test_page_is_readable_on_a_phone(browser, live_server, tmp_path):
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page.goto(live_server + "/?q=%E7%BA%A2%E8%89%B2%E7%9A%84%E6%98%9F%E6%98%9F&lang=zh")
    page.wait_for_selector("#results li[data-id='red-star']")
    assert page.locator("#results li").first.get_attribute("data-id") == "red-star"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the screen
    _wait_until(
        page, "[...document.images].slice(0, 4).every(i => i.complete && i.naturalWidth > 0)"
    )
    page.screenshot(path=str(tmp_path / "search-phone.png"))


def test_page_asks_for_the_token_once(browser, start_server):
    base = start_server(token="open-sesame")
    page = browser.new_page()
    page.goto(base + "/?q=a%20blue%20star")
    page.wait_for_selector("#token-form:not([hidden])")
    assert "API token" in page.text_content("#status")
    page.fill("#token", "open-sesame")
    page.press("#token", "Enter")
    page.wait_for_selector("#results li[data-id='blue-star']")
    assert page.is_hidden("#token-form")
    _wait_until(
        page, "[...document.images].slice(0, 4).every(i => i.complete && i.naturalWidth > 0)"
    )


def _wait_until(page, expression: str, timeout: float = 10.0) -> None:
    """Poll a JS expression (wait_for_function would need 'unsafe-eval', which the CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        time.sleep(0.05)
