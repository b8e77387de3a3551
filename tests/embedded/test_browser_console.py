"""The web console in a real headless Chromium (#17 items 2 and 8): what a desk sees and does.

Every expectation follows from the store of :mod:`tests.embedded.console_items` (72 items say
"officials"; which of them are in the last hour, from which source, naming which entity, in
which language, with which verdict). Screenshots for the README go to the folder named by
``WIREWATCH_SCREENSHOTS`` (else a temporary one).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from wirewatch.embedded.web import create_app, start_web
from wirewatch.sinks.sqlite import SqliteStore

from .console_items import console_items, ids, stamp
from .test_browser import HOSTILE
from .test_browser import browser as browser  # the fixture, shared

pytestmark = pytest.mark.browser

NOW = datetime.now(UTC).replace(microsecond=0)
SHOTS = Path(os.environ.get("WIREWATCH_SCREENSHOTS") or tempfile.mkdtemp(prefix="wirewatch-shots-"))


async def serve(store: SqliteStore) -> tuple[Any, str]:
    return await start_web(create_app(store, store), "127.0.0.1", 0)


@pytest.fixture
async def small_console(tmp_path: Path) -> AsyncIterator[tuple[str, SqliteStore]]:
    store = SqliteStore(tmp_path)
    store.index_items_sync([HOSTILE, {**HOSTILE, "id": "evil:2", "story_id": "evil:2"}])
    runner, url = await serve(store)
    try:
        yield url, store
    finally:
        await runner.cleanup()
        await store.close()


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[tuple[str, SqliteStore]]:
    global NOW  # the items' clock starts with the store, not when pytest collected this module (a
    NOW = datetime.now(UTC).replace(microsecond=0)  # suite minutes long moved "last 1 h" under them)
    store = SqliteStore(tmp_path)
    assert {o.status for o in store.index_items_sync(console_items(NOW))} == {"indexed"}
    store.index_alerts_sync([{
        "id": "ports:off:01", "rule": "ports", "item_id": "off:01", "story_id": "off:01", "dedupe_status": "new",
        "title": "Harbour report number 1", "url": "https://harbour-post.example/1",
        "source": {"id": "harbour-post", "name": "The Harbour Post"}, "published_at": stamp(NOW),
        "matched_at": stamp(NOW),
    }])
    runner, url = await serve(store)
    try:
        yield url, store
    finally:
        await runner.cleanup()
        await store.close()


async def hit_ids(page: Any) -> list[str]:
    return list(await page.locator("li.hit").evaluate_all("els => els.map(e => e.dataset.id)"))


async def test_the_stats_line_is_right_with_javascript_off(browser: Any, small_console: tuple[str, Any]) -> None:
    """#17 item 2: without JS the first render's ``<built-in method items ...>`` stayed for good."""
    url, _ = small_console
    context = await browser.new_context(java_script_enabled=False)
    try:
        page = await context.new_page()
        await page.goto(url)
        assert await page.locator("#stats").inner_text() == "2 items · 2 stories · 0 alerts"
    finally:
        await context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_paging_and_filter_chips(browser: Any, desk: tuple[str, Any], javascript: bool) -> None:
    url, _ = desk
    context = await browser.new_context(java_script_enabled=javascript)
    try:
        page = await context.new_page()
        await page.goto(url)
        await page.fill("#q", "officials")
        await page.press("#q", "Enter")
        await page.wait_for_url("**/?q=officials")
        assert await page.locator("#paging-label").inner_text() == "1–20 of 72"
        for _ in range(2):
            await page.click('a[rel="next"]')
        assert await page.locator("#paging-label").inner_text() == "41–60 of 72"
        assert await hit_ids(page) == ids(range(41, 61))
        assert await page.locator(".pager span").inner_text() == "41–60 of 72"

        # a chip on a result adds its filter (and goes back to page 1)
        await page.locator('li.hit[data-id="off:50"] a.entity:text-is("Bank of Japan")').click()
        assert await page.locator("#paging-label").inner_text() == "1–7 of 7"
        assert await hit_ids(page) == ids([10, 20, 30, 40, 50, 60, 70])
        assert await page.locator("#ran").inner_text() == '(officials) AND entity:"Bank of Japan"'
        assert await page.locator(".active-filters a.chip").all_inner_texts() == ["entity: Bank of Japan ×"]

        await page.locator('li.hit[data-id="off:40"] a.chip.source').click()  # harbour-post: n % 3 == 1
        assert await hit_ids(page) == ids([10, 40, 70])
        await page.click('.times a.chip:text-is("last 1 h")')
        assert await page.locator("#paging-label").inner_text() == "0 of 0"

        # active filters are removable chips
        await page.click('.active-filters a.chip:has-text("time: last 1 h")')
        await page.click('.active-filters a.chip:has-text("entity: Bank of Japan")')
        assert await page.locator("#paging-label").inner_text() == "1–20 of 24"
        assert await page.locator("#ran").inner_text() == '(officials) AND source.id:"harbour-post"'

        # new words keep the filters; sort by relevance puts the title saying it three times first
        await page.fill("#q", "officials OR shipment")
        await page.press("#q", "Enter")
        assert await page.locator("#ran").inner_text() == '(officials OR shipment) AND source.id:"harbour-post"'
        await page.click('.sort a:text-is("relevance")')
        assert (await hit_ids(page))[:2] == ["off:40", "off:01"]

        # custom time range (UTC days): everything older than yesterday is the other-script items
        await page.goto(url + "?q=*")
        await page.fill('.custom-time input[name="to"]', (NOW - timedelta(days=2)).strftime("%Y-%m-%d"))
        await page.click('.custom-time button')
        assert sorted(await hit_ids(page)) == ["ar:1", "cz:1", "ru:1", "zh:1"]
        assert await page.locator("#ran").inner_text() == \
            f"(*) AND published_at:[* TO {(NOW - timedelta(days=2)):%Y-%m-%d}]"
    finally:
        await context.close()


async def test_matched_words_are_marked_in_any_script(browser: Any, desk: tuple[str, Any]) -> None:
    url, _ = desk
    page = await browser.new_page()
    await page.goto(url + "?q=Москва")
    assert await hit_ids(page) == ["ru:1"]
    assert await page.locator("li.hit p.snippet mark").all_inner_texts() == ["Москва", "Москва"]
    await page.goto(url + "?q=莫斯科")
    assert await hit_ids(page) == ["zh:1"]
    assert await page.locator("li.hit a.title mark").all_inner_texts() == ["莫斯科"]
    assert await page.locator("li.hit p.snippet mark").all_inner_texts() == ["莫斯科"]
    await page.goto(url + "?q=Zelensky")
    assert await page.locator("li.hit a.title mark").all_inner_texts() == ["Zelenský"]
    # hostile text in a snippet stays text
    assert await page.locator("li.hit p.snippet").inner_text() == "Prezident Zelenský jednal o <muniční> iniciativě."
    await page.goto(url + '?q="harbour report" AND shipm*&time=1h')
    assert await page.locator('li.hit[data-id="off:01"] a.title mark').all_inner_texts() == ["Harbour", "report"]
    assert await page.locator('li.hit[data-id="off:01"] p.snippet mark').first.inner_text() == "shipment"
    # right-to-left text is laid out right to left inside the left-to-right page
    await page.goto(url + "?q=موسكو")
    title = page.locator('li.hit[data-id="ar:1"] a.title')
    assert await title.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert await title.get_attribute("lang") == "ar"
    await page.close()


async def test_stories_update_live(browser: Any, desk: tuple[str, SqliteStore]) -> None:
    url, store = desk
    page = await browser.new_page()
    await page.goto(url)
    await page.evaluate("window.notReloaded = true")
    assert await page.locator('li.story[data-story="cz:1"] a.folded').count() == 0
    assert await page.locator('li.story[data-story="off:01"] a.folded').inner_text() == "6 more folded"

    newest = {**console_items(NOW)[0], "id": "live:1", "story_id": "live:1", "title": "Breaking: port reopens",
              "published_at": stamp(datetime.now(UTC)), "url": "https://live.example/1"}
    store.index_items_sync([newest])
    first = page.locator("#stories > li.story").first
    await page.wait_for_function(
        "() => document.querySelector('#stories > li.story').dataset.story === 'live:1'", timeout=10_000)
    assert await first.locator("a.title").inner_text() == "Breaking: port reopens"

    follow = {**newest, "id": "live:2", "dedupe": {"status": "duplicate", "of": "live:1"}, "story_id": "live:1",
              "source": {"id": "kyiv-daily", "name": "Kyiv Daily"}}
    store.index_items_sync([follow])
    folded = page.locator('li.story[data-story="live:1"] a.folded')
    await folded.wait_for(timeout=10_000)
    assert await folded.inner_text() == "1 more folded"
    assert await folded.get_attribute("href") == "/story/live%3A1"
    assert await page.locator('li.story[data-story="live:1"] .sources a.chip').all_inner_texts() == [
        "The Harbour Post", "Kyiv Daily"]
    assert await page.locator("#stats").inner_text() == "78 items · 70 stories · 1 alert"
    assert await page.evaluate("window.notReloaded") is True
    await page.close()


async def test_local_times_with_utc_on_hover(browser: Any, desk: tuple[str, Any]) -> None:
    url, _ = desk
    context = await browser.new_context(timezone_id="Asia/Tokyo", locale="en-GB")
    try:
        page = await context.new_page()
        await page.goto(url + "?q=Zelensky")
        time = page.locator('li.hit[data-id="cz:1"] time')
        published = NOW - timedelta(days=3)
        tokyo = published + timedelta(hours=9)
        assert await time.get_attribute("datetime") == stamp(published)
        assert await time.get_attribute("title") == f"{published:%Y-%m-%d %H:%M} UTC"
        assert await time.inner_text() == f"{tokyo.day} {tokyo:%b} {tokyo.year}, {tokyo:%H:%M}"
    finally:
        await context.close()
    no_js = await browser.new_context(java_script_enabled=False)
    try:
        page = await no_js.new_page()
        await page.goto(url + "?q=Zelensky")
        assert await page.locator('li.hit[data-id="cz:1"] time').inner_text() == \
            f"{NOW - timedelta(days=3):%Y-%m-%d %H:%M} UTC"
    finally:
        await no_js.close()


async def box(page: Any, selector: str) -> dict[str, float]:
    found = await page.locator(selector).first.bounding_box()
    assert found is not None, selector
    return dict(found)


async def chips_overlap(page: Any) -> list[str]:
    """Pairs of chips (and list markers) that overlap within each story or hit."""
    return list(await page.evaluate("""() => {
        const bad = [];
        for (const row of document.querySelectorAll('li.story, li.hit')) {
            for (const li of row.querySelectorAll('ul.entities > li'))
                if (getComputedStyle(li).listStyleType !== 'none') bad.push('marker ' + li.textContent);
            const chips = [...row.querySelectorAll('.chip, time, a.folded')].map(e => [e.textContent, e.getBoundingClientRect()]);
            for (let i = 0; i < chips.length; i++) for (let j = i + 1; j < chips.length; j++) {
                const [a, r] = chips[i], [b, s] = chips[j];
                if (r.left < s.right - 0.5 && s.left < r.right - 0.5 && r.top < s.bottom - 0.5 && s.top < r.bottom - 0.5)
                    bad.push(a + ' / ' + b);
            }
        }
        return bad;
    }"""))


async def test_layout_at_390_and_1920_px(browser: Any, desk: tuple[str, Any]) -> None:
    url, _ = desk
    SHOTS.mkdir(parents=True, exist_ok=True)
    phone = await browser.new_page(viewport={"width": 390, "height": 844})
    for address, shot in ((url, "console-390-stories.png"), (url + "?q=officials&entity=Japan", "console-390-search.png")):
        await phone.goto(address)
        results, aside = await box(phone, "#results"), await box(phone, "aside")
        assert results["width"] >= 300  # before: the stories column was ~60 px wide
        assert aside["y"] >= results["y"] + results["height"]  # one column: the alerts below the results
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
        assert await chips_overlap(phone) == []
        await phone.screenshot(path=str(SHOTS / shot), full_page=False)
    await phone.close()

    wide = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await wide.goto(url + "?q=officials&source=harbour-post")
    results, aside = await box(wide, "#results"), await box(wide, "aside")
    assert results["width"] >= 1200 and aside["x"] >= results["x"] + results["width"]  # two columns
    assert aside["y"] == results["y"]
    assert await chips_overlap(wide) == []
    await wide.screenshot(path=str(SHOTS / "console-1920-search.png"))
    await wide.goto(url)
    assert await chips_overlap(wide) == []
    await wide.screenshot(path=str(SHOTS / "console-1920-stories.png"))
    await wide.close()


async def test_keyboard_use(browser: Any, desk: tuple[str, Any]) -> None:
    url, _ = desk
    page = await browser.new_page()
    await page.goto(url + "?q=officials")
    await page.locator("body").click(position={"x": 5, "y": 300})
    await page.keyboard.press("/")
    assert await page.evaluate("document.activeElement.id") == "q"
    await page.keyboard.type(" AND shipm* a/b")  # typing goes on after the words; in the box "/" is a "/"
    assert await page.input_value("#q") == "officials AND shipm* a/b"

    # Tab reaches the first result's title, then its chips; each focused element shows an outline
    await page.locator('li.hit[data-id="off:01"] a.title').focus()
    reached: list[str] = []
    for _ in range(4):
        await page.keyboard.press("Tab")
        reached.append(await page.evaluate(
            "(() => { const e = document.activeElement; return e.className + ':' + e.textContent.trim(); })()"))
        outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", reached[-1]
    assert reached == ["chip source:The Harbour Post", "chip language:en", "chip verdict verdict-new:new",
                           "chip entity entity-GPE:Ukraine"]
    await page.keyboard.press("Enter")  # a chip works from the keyboard
    await page.wait_for_url("**entity=Ukraine**")
    assert await page.locator(".active-filters a.chip").all_inner_texts() == ["entity: Ukraine ×"]
    await page.close()


async def test_language_and_verdict_chips(browser: Any, desk: tuple[str, Any]) -> None:
    url, _ = desk
    page = await browser.new_page()
    await page.goto(url + "?q=officials&time=24h")
    assert await page.locator("#paging-label").inner_text() == "1–20 of 72"
    await page.locator('li.hit[data-id="off:09"] a.chip.language').click()  # every 9th is in Ukrainian
    assert await hit_ids(page) == ids(range(9, 73, 9))
    await page.click('.sort a.chip.verdict:text-is("duplicate")')  # the verdict row of the controls
    assert await hit_ids(page) == ids([36, 72])  # Ukrainian (n % 9) and duplicate (n % 12)
    assert await page.locator(".active-filters a.chip").all_inner_texts() == [
        "language: uk ×", "verdict: duplicate ×", "time: last 24 h ×"]
    assert await page.locator("#ran").inner_text() == \
        '(officials) AND language:"uk" AND dedupe.status:"duplicate" AND published_at:[now-24h TO now]'
    await page.close()
