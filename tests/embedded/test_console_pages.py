"""The console's desk pages in a real headless Chromium: a story's versions and revisions, the
alert history with its deliveries, the rules with their backtest box, and source health.

The pipeline is the demo's news day run to its end (stage 2), with three additions written for
these tests: the webhook destination is called ``desk``, a second one (``dead-desk``) points at
a closed port, a throttled rule, and a source on a closed port.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from wirewatch.embedded.console import attach
from wirewatch.embedded.demo import Demo
from wirewatch.embedded.web import create_app, start_web
from wirewatch.pollers.config import Source
from wirewatch.pollers.health import SourceHealth
from wirewatch.processors.rules import Rule
from wirewatch.sinks.sqlite import SqliteStore

from .test_browser import HOSTILE
from .test_browser import browser as browser

pytestmark = pytest.mark.browser

GRAIN = "meridian-wire:mw-1001"
KHARKIV = "meridian-live:post-103"
DEAD_SOURCE = "dead-wire"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("WIREWATCH_SCREENSHOTS") or tempfile.mkdtemp(prefix="wirewatch-shots-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def shoot(page: Any, name: str) -> None:
    """A full-page PNG at 1920 px and one at 390 px (then back to 1920)."""
    folder = screenshot_dir()
    for width, height in ((1920, 1080), (390, 844)):
        await page.set_viewport_size({"width": width, "height": height})
        await page.screenshot(path=str(folder / f"console-{width}-{name}.png"), full_page=True)
    await page.set_viewport_size({"width": 1920, "height": 1080})


class DeskDemo(Demo):
    """The demo's day, its webhook named ``desk``, plus a dead destination, a throttled rule, a dead source."""

    def write_config(self, folder: Path, base: str) -> Path:
        folder = super().write_config(folder, base)
        sources = yaml.safe_load((folder / "sources.yaml").read_text())
        sources["sources"].append({"id": DEAD_SOURCE, "name": "Dead Wire", "kind": "rss",
                                   "url": f"http://127.0.0.1:{closed_port()}/feed.xml", "interval": "0.2s"})
        (folder / "sources.yaml").write_text(yaml.safe_dump(sources, sort_keys=False))
        hooks = yaml.safe_load((folder / "destinations.yaml").read_text())
        desk = hooks["destinations"].pop("demo-webhook")
        hooks["destinations"]["desk"] = desk
        hooks["destinations"]["dead-desk"] = {"url": f"http://127.0.0.1:{closed_port()}/hook", "format": "json",
                                              "timeout": "1s", "retries": 0}
        (folder / "destinations.yaml").write_text(yaml.safe_dump(hooks, sort_keys=False))
        rules = yaml.safe_load((folder / "rules.yaml").read_text())
        for rule in rules["rules"]:
            rule["notify"] = ["desk", "dead-desk"] if rule["id"] == "port-strike" else ["desk"]
        # one notification an hour: the Tokyo story (stage 2) is held back after the strike (stage 0)
        rules["rules"].append({"id": "strikes-and-stocks", "query": "title:(strike OR stocks)", "notify": ["desk"],
                               "throttle": "1h"})
        (folder / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False, allow_unicode=True))
        return folder


@pytest.fixture(scope="module")
async def desk() -> AsyncIterator[tuple[DeskDemo, list[tuple[float, dict[str, Any]]]]]:
    """The day run to its end; the webhooks the desk received, with their arrival times."""
    arrivals: list[tuple[float, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        demo = DeskDemo(Path(tmp) / "data", web=("127.0.0.1", 0), interval=0.2)
        demo.receiver.on_alert = lambda body: arrivals.append((time.time(), body))
        await demo.start()
        try:
            await demo.settle()
            while demo.advance():
                await demo.settle()
            yield demo, arrivals
        finally:
            await demo.stop()


def store_of(demo: Demo) -> SqliteStore:
    assert demo.runner is not None and isinstance(demo.runner.store, SqliteStore)
    return demo.runner.store


def url_of(demo: Demo, path: str = "") -> str:
    assert demo.runner is not None and demo.runner.web_url
    return demo.runner.web_url.rstrip("/") + path


async def new_page(browser: Any, **context: Any) -> tuple[Any, Any, list[str]]:
    ctx = await browser.new_context(viewport={"width": 1920, "height": 1080}, **context)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return ctx, page, errors


async def fits(page: Any, width: int) -> None:
    """Nothing wider than the window, and the main column uses most of it."""
    await page.set_viewport_size({"width": width, "height": 844})
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    main_width = await page.evaluate("document.querySelector('#results').getBoundingClientRect().width")
    assert main_width >= width * 0.8


async def test_story_page_lists_every_outlet_and_revision_in_time_order(browser: Any, desk: Any) -> None:
    demo, _ = desk
    store = store_of(demo)
    # The Harbour Post corrects its rewrite: a second revision of an item folded into the story.
    harbour = next(d for d in store.story_items(GRAIN) if d["id"] == "harbour-post:hp-2001")
    corrected_at = (datetime.fromisoformat(harbour["published_at"].replace("Z", "+00:00"))
                    + timedelta(minutes=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    outcome = store.index_items_sync([{**harbour, "revision": 2, "updated_at": corrected_at,
                                       "title": "Grain corridor deal signed in Warsaw (corrected)",
                                       "body": "Corrected: the deal was signed on Wednesday. " + harbour["body"]}])
    assert [o.status for o in outcome] == ["indexed"]
    ctx, page, errors = await new_page(browser)
    try:
        await page.goto(url_of(demo))
        folded = page.locator(f'li.story[data-story="{GRAIN}"] a.folded')
        assert await folded.inner_text() == "2 more folded"
        await folded.focus()
        await page.keyboard.press("Enter")  # keyboard-usable: the link opens the story
        await page.wait_for_url(f"**/story/{GRAIN.replace(':', '%3A')}")

        rows = page.locator("ol.versions > li.version")
        assert await rows.evaluate_all("els => els.map(e => e.dataset.id)") == [
            GRAIN, "harbour-post:hp-2001", "morning-digest:digest-4001"]
        assert await rows.locator(".line .source").all_inner_texts() == [
            "Meridian Wire", "The Harbour Post", "The Morning Digest"]
        assert await rows.locator(".line .verdict").all_inner_texts() == ["lead", "near duplicate", "duplicate"]
        published = await rows.locator(".line time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
        assert published == sorted(published) and len(set(published)) == 3
        assert await page.locator(".summary").inner_text() == (
            f"3 items from 3 outlets · first {await rows.first.locator('time').inner_text()} · story id {GRAIN}"
            " · its event across outlets")
        assert await page.locator(".summary a.event-link").get_attribute("href") == (
            f"/event/{GRAIN.replace(':', '%3A')}")

        revisions = page.locator('li.version[data-id="harbour-post:hp-2001"] li.revision')
        assert await revisions.evaluate_all("els => els.map(e => e.dataset.revision)") == ["1", "2"]
        assert await revisions.locator(".rev-title").all_inner_texts() == [
            "Grain corridor deal: Ukraine and Poland sign agreement in Warsaw",
            "Grain corridor deal signed in Warsaw (corrected)"]
        assert await revisions.nth(1).locator("time").get_attribute("datetime") == corrected_at.replace("Z", ".000Z")
        assert await page.locator("li.revision").count() == 2  # only the corrected item has revisions to show

        assert await page.locator(".story-entities a").all_inner_texts() == ["Poland", "Ukraine", "Warsaw"]
        alert = page.locator("li.story-alert")
        assert await alert.evaluate_all("els => els.map(e => e.dataset.alert)") == [f"grain-corridor:{GRAIN}"]
        assert await alert.locator(".delivery .destination").all_inner_texts() == ["desk"]
        await shoot(page, "story")
        await fits(page, 390)

        await page.set_viewport_size({"width": 1920, "height": 1080})
        await page.locator(".story-entities a", has_text="Warsaw").click()
        await page.wait_for_url("**/?entity=Warsaw")
        # the story's three items and the live blog's post on the ships leaving under the Warsaw deal
        assert await page.locator("li.hit").evaluate_all("els => els.map(e => e.dataset.id)") == [
            "morning-digest:digest-4001", "meridian-live:post-102", "harbour-post:hp-2001", GRAIN]
        assert errors == []
    finally:
        await ctx.close()


async def test_a_live_blog_post_shows_both_revisions_and_both_alerts(browser: Any, desk: Any) -> None:
    demo, _ = desk
    ctx, page, errors = await new_page(browser)
    try:
        response = await page.goto(url_of(demo, f"/story/{KHARKIV}"))
        assert response.status == 200
        revisions = page.locator("li.revision")
        assert await revisions.locator(".rev-title").all_inner_texts() == [
            "Explosion reported near Kharkiv power station", "Correction: explosion near Kharkiv hit a substation"]
        times = await revisions.locator("time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
        assert times == sorted(times) and times[0] != times[1]
        alerts = page.locator("li.story-alert")
        assert await alerts.evaluate_all("els => els.map(e => e.dataset.alert)") == [
            f"kharkiv-blast:{KHARKIV}", f"kharkiv-blast:{KHARKIV}:r2"]
        assert errors == []
    finally:
        await ctx.close()


async def test_an_unknown_story_is_a_404_page(browser: Any, desk: Any) -> None:
    demo, _ = desk
    ctx, page, _ = await new_page(browser)
    try:
        response = await page.goto(url_of(demo, "/story/no-such:story"))
        assert response.status == 404
        assert await page.locator("#not-found").inner_text() == "No such story"
        assert await page.locator("#results code").inner_text() == "no-such:story"
    finally:
        await ctx.close()


async def test_story_pages_are_reached_from_search_results_and_alerts(browser: Any, desk: Any) -> None:
    demo, _ = desk
    ctx, page, _ = await new_page(browser)
    try:
        await page.goto(url_of(demo, "/?q=" + "Rotterdam"))
        hit = page.locator('li.hit[data-id="northgate-daily:urn:northgate:3001"]')
        await hit.locator("a.folded").click()  # "in a story"
        await page.wait_for_url("**/story/meridian-wire%3Amw-1002")
        assert await page.locator("ol.versions > li.version").count() == 2

        await page.goto(url_of(demo, "/"))
        await page.locator('#alerts li.alert:has(.rule:text-is("kharkiv-blast")) a.story-link').first.click()
        await page.wait_for_url(f"**/story/{KHARKIV.replace(':', '%3A')}")
    finally:
        await ctx.close()


async def test_alert_history_shows_each_delivery_with_its_outcome_and_time(browser: Any, desk: Any) -> None:
    demo, arrivals = desk
    store = store_of(demo)
    history = store.alert_history(limit=100)
    # the notifier has finished: the port-strike alert was tried on both destinations
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(len(a["deliveries"]) < len(a.get("notify", [])) for a in history):
        await asyncio.sleep(0.2)
        history = store.alert_history(limit=100)
    ctx, page, errors = await new_page(browser, timezone_id="Asia/Tokyo", locale="en-GB")
    try:
        await page.goto(url_of(demo, "/alerts"))
        total = store.alert_total()
        assert await page.locator("#alert-count").inner_text() == f"1–{total} of {total} alerts"
        rows = page.locator("li.history-alert")
        assert await rows.evaluate_all("els => els.map(e => e.dataset.alert)") == [a["id"] for a in history]

        grain = page.locator(f'li.history-alert[data-alert="grain-corridor:{GRAIN}"]')
        delivery = grain.locator("li.delivery")
        assert await delivery.locator(".destination").all_inner_texts() == ["desk"]
        assert await delivery.locator(".outcome").all_inner_texts() == ["delivered"]
        # the time shown is the stored delivery time, which is when the desk's webhook arrived
        stored_at = next(a for a in history if a["id"] == f"grain-corridor:{GRAIN}")["deliveries"][0]["at"]
        shown = await delivery.locator("time").get_attribute("datetime")
        assert shown == stored_at
        at = datetime.fromisoformat(stored_at.replace("Z", "+00:00"))
        arrived = next(t for t, body in arrivals if body["id"] == f"grain-corridor:{GRAIN}")
        assert arrived - 0.5 <= at.timestamp() <= arrived + 2.0
        # local time (Tokyo, UTC+9, British English) on the page, UTC on hover
        tokyo = at.astimezone(ZoneInfo("Asia/Tokyo"))
        assert await delivery.locator("time").inner_text() == f"{tokyo.day} {tokyo:%b %Y}, {tokyo:%H:%M}"
        assert await delivery.locator("time").get_attribute("title") == at.strftime("%Y-%m-%d %H:%M UTC")

        port = page.locator('li.history-alert[data-alert="port-strike:meridian-wire:mw-1002"] li.delivery')
        outcomes = dict(zip(await port.locator(".destination").all_inner_texts(),
                            await port.locator(".outcome").all_inner_texts(), strict=True))
        assert outcomes == {"desk": "delivered", "dead-desk": "dead-lettered"}

        throttled = page.locator('li.history-alert[data-rule="strikes-and-stocks"]')
        assert await throttled.evaluate_all("els => els.map(e => e.dataset.alert)") == [
            "strikes-and-stocks:meridian-wire:mw-1003", "strikes-and-stocks:meridian-wire:mw-1002"]
        assert await throttled.locator(".outcome").all_inner_texts() == ["throttled", "delivered"]

        # filter by rule with the keyboard
        await page.locator("#rule-filter").select_option("kharkiv-blast")
        await page.locator("#results form.filter button").press("Enter")
        await page.wait_for_url("**/alerts?rule=kharkiv-blast")
        assert await page.locator("#alert-count").inner_text() == "1–2 of 2 alerts of rule kharkiv-blast"
        assert await rows.evaluate_all("els => els.map(e => e.dataset.alert)") == [
            f"kharkiv-blast:{KHARKIV}:r2", f"kharkiv-blast:{KHARKIV}"]
        await rows.first.locator("a.story-link").click()
        await page.wait_for_url(f"**/story/{KHARKIV.replace(':', '%3A')}")
        await page.goto(url_of(demo, "/alerts"))
        await shoot(page, "alerts")
        await fits(page, 390)
        assert errors == []
    finally:
        await ctx.close()


async def test_rules_page_lists_the_loaded_rules_and_follows_a_reload(browser: Any, desk: Any) -> None:
    demo, _ = desk
    assert demo.runner is not None
    ctx, page, errors = await new_page(browser)
    try:
        await page.goto(url_of(demo, "/rules"))
        cards = page.locator("li.rule-card")
        assert await cards.evaluate_all("els => els.map(e => e.dataset.rule)") == [
            "grain-corridor", "grain-corridor-uk", "kharkiv-blast", "port-strike", "boj-watch", "strikes-and-stocks"]
        kharkiv = page.locator('li.rule-card[data-rule="kharkiv-blast"]')
        assert await kharkiv.locator(".query").inner_text() == "Kharkiv AND (explosion OR blast)"
        assert await kharkiv.locator(".alerts-link").inner_text() == "2 alerts"
        assert await kharkiv.locator(".options dd").all_inner_texts() == ["desk", "none", "notifies again"]
        assert await kharkiv.locator(".matches li a").all_inner_texts() == [
            "Correction: explosion near Kharkiv hit a substation", "Explosion reported near Kharkiv power station"]
        throttled = page.locator('li.rule-card[data-rule="strikes-and-stocks"] .options dd')
        assert await throttled.all_inner_texts() == ["desk", "1 h", "no"]
        await fits(page, 390)

        rules_file = demo.data_dir / "config" / "rules.yaml"
        rules = yaml.safe_load(rules_file.read_text())
        rules["rules"].append({"id": "tokyo-stocks", "query": "Tokyo AND stocks", "notify": ["desk"]})
        rules_file.write_text(yaml.safe_dump(rules, sort_keys=False, allow_unicode=True))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            await page.goto(url_of(demo, "/rules"))
            if await page.locator('li.rule-card[data-rule="tokyo-stocks"]').count():
                break
            await asyncio.sleep(0.5)
        assert await cards.count() == 7
        assert await page.locator("#loaded-title").inner_text() == "Loaded rules (7)"
        assert errors == []
    finally:
        await ctx.close()


async def test_the_backtest_box_counts_matches_over_the_chosen_period(browser: Any, desk: Any) -> None:
    demo, _ = desk
    store_of(demo).index_items_sync([{**HOSTILE, "id": "old-wire:1", "story_id": "old-wire:1",
                                      "source": {"id": "old-wire", "name": "Old Wire"},
                                      "url": "https://old.example/1", "title": "Grain corridor talks in 2020"}])
    ctx, page, errors = await new_page(browser)
    try:
        await page.goto(url_of(demo, "/rules"))
        # keyboard only: type the query, Tab to the period, End picks "everything stored", Tab, Enter
        await page.focus("#bt-q")
        await page.keyboard.type('"grain corridor"')
        await page.keyboard.press("Tab")
        await page.keyboard.press("End")
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        await page.locator("#backtest-count").wait_for()
        assert await page.locator("#bt-since").input_value() == "all"
        # the wire story, its two copies and the 2020 item
        assert await page.locator("#backtest-count").inner_text() == (
            '4 items match "grain corridor" in everything stored; the newest 4:')
        assert await page.locator("li.backtest-hit").evaluate_all("els => els.map(e => e.dataset.id)") == [
            "morning-digest:digest-4001", "harbour-post:hp-2001", GRAIN, "old-wire:1"]
        await shoot(page, "rules")
        await fits(page, 390)
        await page.set_viewport_size({"width": 1920, "height": 1080})

        await page.select_option("#bt-since", "7d")
        await page.press("#bt-q", "Enter")
        await page.wait_for_url("**since=7d*")
        assert (await page.locator("#backtest-count").inner_text()).startswith(
            '3 items match "grain corridor" in the last 7d')

        await page.fill("#bt-q", "title:(")
        await page.press("#bt-q", "Enter")
        await page.wait_for_url("**q=title*")
        assert await page.locator("#backtest-error").inner_text() == "at position 7: empty group ()"
        assert await page.locator("#backtest-count").count() == 0

        await page.locator('li.rule-card[data-rule="kharkiv-blast"] a.backtest-link').click()
        await page.locator("#backtest-count").wait_for()
        assert await page.locator("#bt-q").input_value() == "Kharkiv AND (explosion OR blast)"
        assert (await page.locator("#backtest-count").inner_text()).startswith("1 item matches")
        assert errors == []
    finally:
        await ctx.close()


async def test_sources_page_shows_a_failing_source_and_its_error(browser: Any, desk: Any) -> None:
    demo, _ = desk
    ctx, page, errors = await new_page(browser)
    try:
        await page.goto(url_of(demo, "/sources"))
        cards = page.locator("li.source-card")
        assert await cards.evaluate_all("els => els.map(e => e.dataset.source)") == [  # failing first
            DEAD_SOURCE,
            "meridian-wire", "harbour-post", "northgate-daily", "morning-digest", "kyiv-visnyk", "meridian-live"]
        dead = page.locator(f'li.source-card[data-source="{DEAD_SOURCE}"]')
        assert await dead.get_attribute("class") == "source-card state-failing"
        assert int(await dead.locator(".failures").inner_text()) >= 1
        assert (await dead.locator(".last-error").inner_text()).startswith(
            "network: ConnectError: All connection attempts failed (")
        assert await dead.locator(".last-success").inner_text() == "never"
        ok = page.locator('li.source-card[data-source="meridian-wire"]')
        assert await ok.locator(".state").inner_text() == "ok"
        assert await ok.locator(".failures").inner_text() == "0"
        assert await ok.locator(".items-seen").inner_text() == "3"  # mw-1001, mw-1002, mw-1003
        assert (await page.locator("#sources-summary").inner_text()).startswith("7 sources · 1 failing")
        await shoot(page, "sources")
        await fits(page, 390)
        assert errors == []
    finally:
        await ctx.close()


async def test_a_quiet_source_is_highlighted_with_its_staleness(browser: Any, tmp_path: Path) -> None:
    """Staleness needs hours of a source's life: a SourceHealth fed explicit times, on a page of its own."""
    now = 1_780_000_000.0
    quiet = Source(id="quiet-wire", name="Quiet Wire", kind="rss", url="https://quiet.example/rss.xml")
    lively = Source(id="lively-wire", name="Lively Wire", kind="rss", url="https://lively.example/rss.xml")
    health = SourceHealth([lively, quiet], export=False, clock=lambda: now)  # config order: lively first
    hour = 3600.0
    # hourly items until 4 hours ago: staleness 4.0
    health.succeeded("quiet-wire", at=now - 60, item_times={f"q{n}": now - hour * (4 + n) for n in range(5)})
    health.succeeded("lively-wire", at=now - 60, item_times={f"l{n}": now - hour * (n + 0.5) for n in range(5)})
    store = SqliteStore(tmp_path)
    app = create_app(store, store)
    attach(app, health=health)
    runner, url = await start_web(app, "127.0.0.1", 0)
    ctx, page, _ = await new_page(browser)
    try:
        await page.goto(url + "sources")
        card = page.locator('li.source-card[data-source="quiet-wire"]')
        assert await card.get_attribute("class") == "source-card state-quiet"
        assert await card.locator(".staleness").inner_text() == "4.0×"
        assert await card.locator(".usual-gap").inner_text() == "1 h"
        assert (await card.locator(".last-item").inner_text()).startswith("4 h ago · ")
        order = await page.locator("li.source-card").evaluate_all("els => els.map(e => e.dataset.source)")
        assert order == ["quiet-wire", "lively-wire"]  # quiet before ok
        lively_card = page.locator('li.source-card[data-source="lively-wire"]')
        assert await lively_card.get_attribute("class") == "source-card state-ok"
        assert await lively_card.locator(".staleness").inner_text() == "0.5×"
        assert (await page.locator("#sources-summary").inner_text()).startswith("2 sources · 1 quiet")
        border = await card.evaluate("e => getComputedStyle(e).borderLeftColor")
        assert border == "rgb(224, 161, 0)"
    finally:
        await ctx.close()
        await runner.cleanup()
        await store.close()


async def test_right_to_left_story_titles_read_right_to_left(browser: Any, desk: Any) -> None:
    demo, _ = desk
    arabic = {**HOSTILE, "id": "arab-wire:1", "story_id": "arab-wire:1", "language": "ar",
              "source": {"id": "arab-wire", "name": "الوكالة العربية"}, "url": "https://arab.example/1",
              "title": "اتفاق ممر الحبوب بين أوكرانيا وبولندا", "body": "وقعت أوكرانيا وبولندا اتفاقا في وارسو.",
              "entities": [{"name": "وارسو", "type": "GPE"}]}
    store_of(demo).index_items_sync([arabic])
    ctx, page, _ = await new_page(browser)
    try:
        await page.goto(url_of(demo, "/story/arab-wire:1"))
        title = page.locator("article.story-view h2")
        assert await title.get_attribute("lang") == "ar"
        assert await title.evaluate("e => getComputedStyle(e).direction") == "rtl"
        assert await page.locator("li.version .source").evaluate("e => getComputedStyle(e).direction") == "rtl"
        assert await page.locator("li.version .line time").evaluate("e => getComputedStyle(e).direction") == "ltr"
    finally:
        await ctx.close()


async def test_pages_work_without_javascript_showing_utc(browser: Any, desk: Any) -> None:
    demo, _ = desk
    ctx = await browser.new_context(java_script_enabled=False)
    try:
        page = await ctx.new_page()
        await page.goto(url_of(demo, f"/story/{GRAIN}"))
        first = page.locator("li.version time").first
        stamp = await first.get_attribute("datetime")
        assert stamp is not None
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
        assert await first.inner_text() == at.strftime("%Y-%m-%d %H:%M UTC")
        for path in ("/alerts", "/rules", "/sources"):
            response = await page.goto(url_of(demo, path))
            assert response.status == 200
            assert await page.locator("#results h2").inner_text() in ("Alert history", "Rules", "Sources")
    finally:
        await ctx.close()


async def test_alert_history_pages_by_fifty(browser: Any, desk: Any) -> None:
    """Last in the file: its 55 stored alerts would crowd the other tests' pages and screenshots."""
    demo, _ = desk
    store = store_of(demo)
    template = store.alert_history(limit=1, rule="boj-watch")[0]
    template.pop("deliveries")
    bulk = [{**template, "id": f"bulk-rule:story-{n:03d}", "rule": "bulk-rule", "story_id": f"bulk:{n:03d}"}
            for n in range(55)]
    assert {o.status for o in store.index_alerts_sync(bulk)} == {"indexed"}
    ctx, page, _ = await new_page(browser)
    try:
        await page.goto(url_of(demo, "/alerts?rule=bulk-rule"))
        assert await page.locator("#alert-count").inner_text() == "1–50 of 55 alerts of rule bulk-rule"
        assert await page.locator("li.history-alert").count() == 50
        assert await page.locator("li.history-alert").first.get_attribute("data-alert") == "bulk-rule:story-054"
        await page.locator(".pager a[rel=next]").click()
        await page.wait_for_url("**/alerts?rule=bulk-rule&page=2")
        assert await page.locator("#alert-count").inner_text() == "51–55 of 55 alerts of rule bulk-rule"
        assert await page.locator("li.history-alert").evaluate_all("els => els.map(e => e.dataset.alert)") == [
            f"bulk-rule:story-{n:03d}" for n in (4, 3, 2, 1, 0)]
        assert await page.locator(".pager > *").all_inner_texts() == ["← newer", "page 2 of 2"]
    finally:
        await ctx.close()


async def test_a_long_rules_file_is_shown_a_hundred_rules_a_page(browser: Any, tmp_path: Path) -> None:
    rules = [Rule(id=f"watch-{n:03d}", query=f"term{n}") for n in range(230)]
    store = SqliteStore(tmp_path)
    app = create_app(store, store)
    attach(app, rules=lambda: rules)
    runner, url = await start_web(app, "127.0.0.1", 0)
    ctx, page, _ = await new_page(browser)
    try:
        await page.goto(url + "rules?page=3")
        assert await page.locator("#loaded-title").inner_text() == "Loaded rules (230)"
        cards = page.locator("li.rule-card")
        assert await cards.evaluate_all("els => els.map(e => e.dataset.rule)") == [
            f"watch-{n:03d}" for n in range(200, 230)]
        assert await page.locator(".pager > span").inner_text() == "rules 201–230 of 230"
        await page.locator(".pager a[rel=prev]").click()
        await page.wait_for_url("**/rules?since=7d&page=2")
        assert await cards.first.get_attribute("data-rule") == "watch-100"
    finally:
        await ctx.close()
        await runner.cleanup()
        await store.close()
