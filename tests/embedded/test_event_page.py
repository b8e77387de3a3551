"""The event page ``/event/<id>`` on the SQLite store: an event's outlets and timeline, and an
id merged away leading to the event it went into.

Items are the processing core's output for ``tests/fixtures/events/ten_outlets.jsonl`` (ten
outlets' write-ups of one event, a syndicated copy, three other stories) and three items of
which the third bridges the first two (processors/events.py merges).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from wirewatch.embedded.web import create_app, start_web
from wirewatch.processors.dedupe import Deduper
from wirewatch.processors.entities import EntityTagger
from wirewatch.processors.pipeline import Processor
from wirewatch.processors.rules import RuleSet
from wirewatch.sinks.sqlite import SqliteStore

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "events"
T0 = datetime(2026, 6, 6, 10, 0, tzinfo=UTC)
BRIDGED = [
    {"id": "a", "source": {"id": "s", "name": "Sentinel"}, "url": "https://s.example/a",
     "published_at": "2026-06-06T10:00:00Z",
     "title": "Zorvath reactor shutdown at Kellminster", "body": "Operators shut reactor 3 at Kellminster."},
    {"id": "b", "source": {"id": "t", "name": "Tidings"}, "url": "https://t.example/b",
     "published_at": "2026-06-06T10:05:00Z",
     "title": "Quillan valve fault found", "body": "Inspectors found a Quillan valve fault, report 7741 says."},
    {"id": "c", "source": {"id": "u", "name": "Upstate"}, "url": "https://u.example/c",
     "published_at": "2026-06-06T10:10:00Z", "title": "Kellminster's Zorvath reactor halted; Quillan valve blamed",
     "body": "Operators shut the Zorvath reactor at Kellminster over a faulty Quillan valve, named in inspection "
             "report 7741."},
]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[str]:
    processor = Processor(RuleSet.from_rules([]), EntityTagger([]), Deduper({}))
    raws = [json.loads(line) for line in (FIX / "ten_outlets.jsonl").read_text("utf-8").splitlines()] + BRIDGED
    items = [processor.process(raw, T0 + timedelta(minutes=n)).item for n, raw in enumerate(raws)]
    store = SqliteStore(tmp_path)
    store.index_items_sync(items)
    runner, url = await start_web(create_app(store, store), "127.0.0.1", 0)
    try:
        yield url
    finally:
        await runner.cleanup()
        await store.close()


def attr(html: str, pattern: str) -> list[str]:
    return re.findall(pattern, html)


async def test_the_event_page_lists_its_outlets_and_its_timeline_in_time_order(site: str) -> None:
    async with httpx.AsyncClient(base_url=site) as client:
        page = await client.get("/event/wire-bridge")
    assert page.status_code == 200
    assert attr(page.text, r'class="outlet" dir="auto">([^<]+) <span class="count">(\d+)') == [
        ("wire", "1"), ("aggregator", "1"), ("daily", "1"), ("tribune", "1"), ("herald", "1"), ("courier", "1"),
        ("post", "1"), ("zeitung", "1"), ("rundschau", "1"), ("radio", "1"), ("journal", "1")]
    assert attr(page.text, r'class="timeline-item" data-id="([^"]+)"') == [
        # by publication time; the aggregator's copy was published with the wire's time
        "wire-bridge", "aggregator-bridge", "daily-bridge", "tribune-bridge", "herald-bridge", "courier-bridge",
        "post-bridge", "zeitung-bridge", "rundschau-bridge", "radio-bridge", "journal-bridge"]
    assert "11 items · 10 stories from 11 outlets" in page.text


async def test_an_id_merged_away_leads_to_the_event_it_went_into(site: str) -> None:
    async with httpx.AsyncClient(base_url=site) as client:
        merged, survivor = await client.get("/event/b"), await client.get("/event/a")
    for page in (merged, survivor):
        assert page.status_code == 200
        assert attr(page.text, r'class="event-view" data-event="([^"]+)"') == ["a"]
        assert attr(page.text, r'class="timeline-item" data-id="([^"]+)" data-event="([^"]+)"') == [
            ("a", "a"), ("b", "b"), ("c", "a")]  # emitted items keep the id they had
        assert attr(page.text, r'class="merge" data-old="([^"]+)"') == ["b"]
    assert 'id="merged-note"' in merged.text and 'id="merged-note"' not in survivor.text


async def test_an_unknown_event_is_a_404_page(site: str) -> None:
    async with httpx.AsyncClient(base_url=site) as client:
        page = await client.get("/event/nothing-here")
    assert page.status_code == 404
    assert 'id="not-found"' in page.text


