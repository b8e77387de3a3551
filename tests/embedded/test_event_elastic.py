"""Events on the Elasticsearch store: ``event_id`` is a keyword Kibana can group by, and the event
page finds an event's items (and those of an id merged into it) by searching ``event_id``."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from wirewatch.embedded.web import AlertRing, create_app, start_web
from wirewatch.processors.dedupe import Deduper
from wirewatch.processors.entities import EntityTagger
from wirewatch.processors.pipeline import Processor
from wirewatch.processors.rules import RuleSet

from .test_event_page import BRIDGED

pytestmark = pytest.mark.elastic
FIX = Path(__file__).resolve().parent.parent / "fixtures" / "events"
T0 = datetime(2026, 6, 6, 10, 0, tzinfo=UTC)


@pytest.fixture
async def site(es_store: Any) -> AsyncIterator[str]:
    processor = Processor(RuleSet.from_rules([]), EntityTagger([]), Deduper({}))
    raws = [json.loads(line) for line in (FIX / "ten_outlets.jsonl").read_text("utf-8").splitlines()] + BRIDGED
    await es_store.index_items([processor.process(raw, T0 + timedelta(minutes=n)).item for n, raw in enumerate(raws)])
    await es_store.refresh()
    runner, url = await start_web(create_app(es_store, AlertRing()), "127.0.0.1", 0)
    try:
        yield url
    finally:
        await runner.cleanup()


async def test_kibana_can_group_items_by_event_id(site: str, es_store: Any, es_client: Any) -> None:
    found = await es_client.search(index=es_store.items_alias, size=0,
                                   aggs={"events": {"terms": {"field": "event_id", "size": 10}}})
    buckets = {b["key"]: b["doc_count"] for b in found["aggregations"]["events"]["buckets"]}
    assert buckets == {"wire-bridge": 11, "wire-other-0": 1, "daily-other-1": 1, "tribune-other-2": 1, "a": 2, "b": 1}


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_the_event_page_searches_event_id_and_the_ids_merged_into_it(site: str) -> None:
    status, html = await get(site + "event/wire-bridge")
    assert status == 200
    assert len(re.findall(r'class="timeline-item" data-id="', html)) == 11
    status, html = await get(site + "event/b")  # merged into a
    assert status == 200
    assert re.findall(r'class="timeline-item" data-id="([^"]+)"', html) == ["a", "b", "c"]
    assert re.findall(r'class="merge" data-old="([^"]+)"', html) == ["b"]
    status, _ = await get(site + "event/nothing-here")
    assert status == 404
