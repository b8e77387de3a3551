"""The web page of `wirewatch run` in a real headless Chromium (Debian's, driven by Playwright):
search returns the expected stories, a new alert appears live, hostile feed content stays text."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wirewatch.embedded.demo import Demo
from wirewatch.sinks.sqlite import SqliteStore

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("WIREWATCH_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

HOSTILE = {
    "id": "evil:1",
    "source": {"id": "evil", "name": "<b>Evil</b> Outlet"},
    "url": "javascript:window.pwned=2",
    "title": 'Grain corridor <img src=x onerror="window.pwned=1"> exposed',
    "body": "grain corridor in Ukraine </script><script>window.pwned=3</script>",
    "published_at": "2020-01-01T00:00:00Z",
    "dedupe": {"status": "new", "of": None},
    "story_id": "evil:1",
    "entities": [{"name": "<i>Ukraine</i>", "type": "GPE"}],
    "alerts": [],
}


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        message = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    demo = Demo(tmp_path / "data", web=("127.0.0.1", 0), interval=0.2)
    await demo.start()
    try:
        await demo.settle()
        demo.advance()
        await demo.settle()  # stage 1 of 2: the correction of post-103 is still to come
        yield demo
    finally:
        await demo.stop()


async def test_browser_search_and_live_alerts(browser: Any, demo: Demo) -> None:
    assert demo.runner is not None and demo.runner.web_url
    store = demo.runner.store
    assert isinstance(store, SqliteStore)
    store.index_items_sync([HOSTILE])
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    await page.goto(demo.runner.web_url)
    stories = page.locator("li.story")
    await stories.first.wait_for()
    titles = await page.locator("li.story > a.title").all_inner_texts()
    assert "Ukraine and Poland sign grain corridor deal in Warsaw" in titles
    grain = page.locator('li.story[data-story="meridian-wire:mw-1001"]')
    assert await grain.locator(".sources .source").all_inner_texts() == ["Meridian Wire", "The Harbour Post"]
    assert await grain.locator(".entity").all_inner_texts() == ["Poland", "Ukraine", "Warsaw"]

    await page.fill("#q", '"grain corridor" AND Ukraine')
    await page.press("#q", "Enter")
    await page.locator("li.hit").first.wait_for()
    assert await page.locator("li.hit").evaluate_all("els => els.map(e => e.dataset.id)") == [
        "harbour-post:hp-2001", "meridian-wire:mw-1001", "evil:1",
    ]
    hostile = page.locator('li.hit[data-id="evil:1"]')
    assert await hostile.locator("a.title").inner_text() == 'Grain corridor <img src=x onerror="window.pwned=1"> exposed'
    assert await hostile.locator("a.title").get_attribute("href") == "#"
    assert await hostile.locator(".entity").inner_text() == "<i>Ukraine</i>"

    await page.fill("#q", "title:(")
    await page.press("#q", "Enter")
    assert (await page.locator("#error").inner_text()).startswith("Cannot search for that:")

    await page.goto(demo.runner.web_url)
    alerts = page.locator("#alerts li.alert")
    assert await alerts.count() == 5
    demo.advance()  # the live blog corrects post-103: kharkiv-blast fires again
    await demo.settle()
    correction = page.locator('#alerts li.alert:has-text("Correction: explosion near Kharkiv hit a substation")')
    await correction.wait_for(timeout=10_000)
    assert await correction.locator(".rule").inner_text() == "kharkiv-blast"
    assert await alerts.count() == 6

    assert await page.evaluate("window.pwned") is None
    assert errors == []
