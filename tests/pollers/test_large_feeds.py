"""Feeds larger than the old 5,000-entry state: nothing still in the feed is ever emitted twice.

Issue #16 item 3: poll state kept 5,000 entries per source with one shared "seen"
time, so a 6,000-item feed re-emitted 1,000 unchanged items on every poll.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from wirewatch.pollers.config import Source
from wirewatch.pollers.http import Fetcher
from wirewatch.pollers.items import content_hash
from wirewatch.pollers.state import MAX_ABSENT, RETAIN_SECONDS, DirectoryStateStore, SourceState

from .helpers import Site, fast_policy, make_poller

DAY = 86400.0


def rss(count: int, edited: int | None = None) -> bytes:
    """An RSS 2.0 feed of ``count`` items, newest first; ``edited`` has a changed body."""
    items = []
    for n in range(count, 0, -1):
        body = f"Report number {n} from the regional desk."
        if n == edited:
            body += " Updated with a correction."
        items.append(
            f"<item><guid isPermaLink=\"false\">story-{n}</guid>"
            f"<title>{escape(f'Story {n}: council votes on budget line {n % 97}')}</title>"
            f"<link>https://archive.example/story/{n}</link>"
            f"<description>{escape(body)}</description>"
            f"<pubDate>Tue, 03 Mar 2026 {n % 24:02d}:{n % 60:02d}:00 GMT</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Archive feed</title><link>https://archive.example/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


async def test_a_6000_item_feed_over_http_is_emitted_once(site: Site, tmp_path: Path) -> None:
    source = Source(id="archive", kind="rss", url=site.url("/archive.xml"))
    site.serve("/archive.xml", rss(6000), headers={"Content-Type": "application/rss+xml"})
    async with Fetcher(fast_policy(total_timeout=60.0, read_timeout=30.0)) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher)
        first = await poller.poll_source(source)
        second = await poller.poll_source(source)
        site.serve(
            "/archive.xml", rss(6000, edited=4321), headers={"Content-Type": "application/rss+xml"}
        )
        third = await poller.poll_source(source)

    assert first.outcome == "ok" and len(first.items) == 6000
    assert len({i["id"] for i in first.items}) == 6000
    assert (second.outcome, second.items) == ("ok", [])
    assert [(i["id"], i["revision"]) for i in third.items] == [("archive:story-4321", 2)]
    saved = await DirectoryStateStore(tmp_path / "state").load("archive")
    assert len(saved.entries) == 6000


def feed_items(ids: range, source: str = "big") -> list[dict[str, Any]]:
    """Items as a parser hands them to the state: only id and content_hash matter to it."""
    return [
        {"id": f"{source}:{n}", "content_hash": content_hash(f"title {n}", "body")} for n in ids
    ]


def test_a_100k_item_feed_is_not_re_emitted_and_survives_a_save(tmp_path: Path) -> None:
    items = feed_items(range(100_000))
    state = SourceState("big")
    emitted, state = state.plan(items, etag=None, last_modified=None, now=1_000.0)
    assert len(emitted) == 100_000

    store = DirectoryStateStore(tmp_path)
    store._save(state)
    state = store._load("big")

    again, state = state.plan(items, etag=None, last_modified=None, now=1_300.0)
    assert again == []
    edited = [*items[:99_999], {"id": "big:99999", "content_hash": content_hash("new", "body")}]
    revised, state = state.plan(edited, etag=None, last_modified=None, now=1_600.0)
    assert [(i["id"], i["revision"]) for i in revised] == [("big:99999", 2)]
    assert len(state.entries) == 100_000


def test_ids_gone_from_the_feed_are_forgotten_least_recently_seen_first() -> None:
    state = SourceState("big")
    # 1,000 polls' worth of scrolling: each poll the feed shows 10 ids, 10 newer than the last
    start = 0.0
    for poll in range(MAX_ABSENT // 10 + 100):
        window = range(poll * 10, poll * 10 + 10)
        _, state = state.plan(feed_items(window), etag=None, last_modified=None, now=start + poll)
    last_poll = MAX_ABSENT // 10 + 99
    present = set(range(last_poll * 10, last_poll * 10 + 10))
    kept = {int(key.split(":")[1]) for key in state.entries}
    # every id in the feed, plus the MAX_ABSENT most recently seen of the others
    newest_absent = set(range(last_poll * 10 - MAX_ABSENT, last_poll * 10))
    assert kept == present | newest_absent

    # an id that scrolled out and comes back while remembered is not emitted again
    back, _ = state.plan(
        feed_items(range(last_poll * 10 - 5, last_poll * 10)), etag=None, last_modified=None,
        now=start + last_poll + 1,
    )  # fmt: skip
    assert back == []
    # one that was forgotten (least recently seen) is new again
    forgotten, _ = state.plan(
        feed_items(range(0, 3)), etag=None, last_modified=None, now=start + last_poll + 1
    )
    assert [i["id"] for i in forgotten] == ["big:0", "big:1", "big:2"]


def test_ids_gone_for_longer_than_the_retention_are_forgotten_ids_in_the_feed_never() -> None:
    state = SourceState("s")
    _, state = state.plan(feed_items(range(6), "s"), etag=None, last_modified=None, now=0.0)
    # ids 0-2 leave the feed; 3-5 stay in it through a long quiet period
    _, state = state.plan(feed_items(range(3, 6), "s"), etag=None, last_modified=None, now=DAY)
    later = DAY + RETAIN_SECONDS + 1
    emitted, state = state.plan(feed_items(range(3, 6), "s"), etag=None, last_modified=None, now=later)
    assert emitted == []
    assert sorted(state.entries) == ["s:3", "s:4", "s:5"]


async def test_parsing_a_large_feed_leaves_the_event_loop_free(site: Site, tmp_path: Path) -> None:
    """Parsing 6,000 items takes seconds: other sources, the processor and the page go on meanwhile."""
    source = Source(id="archive", kind="rss", url=site.url("/archive.xml"))
    site.serve("/archive.xml", rss(6000), headers={"Content-Type": "application/rss+xml"})
    gaps: list[float] = []

    async def tick() -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            now = loop.time()
            gaps.append(now - last)
            last = now

    async with Fetcher(fast_policy(total_timeout=60.0, read_timeout=30.0)) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher)
        ticker = asyncio.create_task(tick())
        started = time.monotonic()
        result = await poller.poll_source(source)
        took = time.monotonic() - started
        ticker.cancel()
    assert len(result.items) == 6000
    assert took > 1.0  # the parse is long enough for a stalled loop to show
    assert max(gaps) < 0.5, f"event loop stalled {max(gaps):.2f} s during a {took:.1f} s poll"


def test_a_state_saved_with_full_content_hashes_re_emits_nothing() -> None:
    """States written before hashes were kept to 64 bits still recognise unchanged items."""
    digest = content_hash("Budget passes", "The council voted.")
    saved = {"v": 1, "source": "s", "etag": None, "last_modified": None, "saved_at": 5.0,
             "entries": {"s:1": [digest, 3, 5.0]}}  # fmt: skip
    state = SourceState.from_json(saved, "s")
    emitted, _ = state.plan([{"id": "s:1", "content_hash": digest}], etag=None, last_modified=None)
    assert emitted == []
    edited = content_hash("Budget passes", "The council voted, 31 to 20.")
    emitted, _ = state.plan([{"id": "s:1", "content_hash": edited}], etag=None, last_modified=None)
    assert [(i["id"], i["revision"]) for i in emitted] == [("s:1", 4)]
