"""The console pages on the Elasticsearch store (``wirewatch run`` with Kafka and Elasticsearch):
the story page searches ``story_id:`` and says what it cannot show; alert history, rules and the
backtest box read the index."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from wirewatch.embedded.console import attach
from wirewatch.embedded.web import AlertRing, create_app, start_web
from wirewatch.processors.rules import Rule

from .test_story_store import alert, item

pytestmark = pytest.mark.elastic


@pytest.fixture
async def console(es_store: Any) -> AsyncIterator[str]:
    await es_store.index_items([
        item("wire:1", "2026-03-03T10:00:00Z", story="wire:1", title="Quake hits the coast"),
        item("herald:4", "2026-03-03T10:10:00Z", story="wire:1", status="near_duplicate", revision=2,
             title="Quake hits the coast, officials say", updated="2026-03-03T10:40:00Z"),
        item("post:9", "2026-03-03T10:30:00Z", story="wire:1", status="duplicate"),
        item("other:1", "2026-03-03T10:05:00Z", story="other:1", title="Markets open lower", body="Stocks fell."),
    ])
    await es_store.index_alerts([alert("quake", "wire:1", "2026-03-03T10:01:00Z")])
    await es_store.index_deliveries([{"alert_id": "quake:wire:1", "destination": "desk", "outcome": "delivered",
                                      "at": "2026-03-03T10:01:02.250Z", "attempts": 1}])
    await es_store.refresh()
    app = create_app(es_store, AlertRing())
    attach(app, rules=lambda: [Rule(id="quake", query="quake AND coast", notify=["desk"])])
    runner, url = await start_web(app, "127.0.0.1", 0)
    try:
        yield url
    finally:
        await runner.cleanup()


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_the_story_page_finds_a_storys_items_by_story_id(console: str) -> None:
    status, html = await get(console + "story/wire:1")
    assert status == 200
    assert re.findall(r'<li class="version[^"]*" data-id="([^"]+)"', html) == ["wire:1", "herald:4", "post:9"]
    assert '<span class="rev">revision 2</span>' in html
    assert "Elasticsearch keeps each item&#39;s latest revision only" in html
    status, _ = await get(console + "story/nope:1")
    assert status == 404


async def test_alert_history_rules_and_backtest_read_the_index(console: str) -> None:
    status, html = await get(console + "alerts")
    assert status == 200
    assert re.findall(r'data-alert="([^"]+)"', html) == ["quake:wire:1"]
    assert 'data-destination="desk"><span class="destination" dir="auto">desk</span> ' \
           '<span class="outcome">delivered</span> <time class="when" datetime="2026-03-03T10:01:02.250Z"' in html

    status, html = await get(console + "rules?q=quake&since=all")
    assert status == 200
    assert re.search(r'id="backtest-count"><strong>3</strong> items match', html)
    assert re.findall(r'class="backtest-hit" data-id="([^"]+)"', html) == ["post:9", "herald:4", "wire:1"]
    assert '<a class="alerts-link" href="/alerts?rule=quake">1 alert</a>' in html

    status, html = await get(console + "rules?q=title:(&since=all")
    assert status == 400
    assert 'id="backtest-error"' in html


async def test_the_counts_line_reads_the_stored_alerts(console: str) -> None:
    """On Elasticsearch too the header counts the stories and alerts stored (the page's live ring
    is empty here; the stories line said 0 before the store counted ``is_story`` items)."""
    status, html = await get(console)
    assert status == 200
    line = re.search(r'<p class="stats" id="stats">([^<]*)</p>', html)
    assert line is not None and line.group(1) == "4 items · 2 stories · 1 alert"
