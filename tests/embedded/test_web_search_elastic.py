"""The paged search on the real Elasticsearch node: the same totals and pages as the SQLite store
on the desk store of :mod:`tests.embedded.console_items`, and the console on Elasticsearch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from wirewatch.embedded.web import AlertRing, create_app, start_web
from wirewatch.sinks.sqlite import SqliteStore

from .console_items import console_items, ids

pytestmark = pytest.mark.elastic

NOW = datetime.now(UTC).replace(microsecond=0)
#: (query, search_page options) -> the same total and ids on both stores
PAGES: list[tuple[str, dict[str, Any]]] = [
    ("officials", {"offset": 40, "limit": 20}),
    ("officials", {"offset": 60, "limit": 20}),
    ("officials AND published_at:[now-1h TO now]", {}),
    ('officials AND entity:"Japan"', {}),
    ('officials AND source.id:"harbour-post" AND language:en', {"offset": 5, "limit": 5}),
    ("dedupe.status:duplicate OR dedupe.status:update", {}),
    ("*", {"offset": 70, "limit": 10}),
    ("Москва OR 莫斯科 OR Zelensky", {}),
    ("officials", {"since": NOW - timedelta(hours=1), "until": NOW - timedelta(minutes=20)}),
]


@pytest.fixture
async def stores(es_store: Any, tmp_path: Path) -> tuple[Any, SqliteStore]:
    items = console_items(NOW)
    assert {o.status for o in await es_store.index_items(items)} == {"indexed"}
    await es_store.refresh()
    sqlite = SqliteStore(tmp_path)
    sqlite.index_items_sync(items)
    return es_store, sqlite


async def test_elastic_pages_equal_sqlite_pages(stores: tuple[Any, SqliteStore]) -> None:
    elastic, sqlite = stores
    first = await elastic.search_page("officials", offset=40, limit=20)
    assert (first.total, [h.id for h in first.hits]) == (72, ids(range(41, 61)))
    for query, options in PAGES:
        on_es = await elastic.search_page(query, **options)
        on_sqlite = await sqlite.search_page(query, **options)
        assert (on_es.total, [h.id for h in on_es.hits]) == (on_sqlite.total, [h.id for h in on_sqlite.hits]), query


async def test_elastic_relevance_puts_the_title_match_first(stores: tuple[Any, SqliteStore]) -> None:
    elastic, _ = stores
    page = await elastic.search_page("officials", limit=3, sort="relevance")
    assert page.total == 72 and page.hits[0].id == "off:40"
    with pytest.raises(ValueError, match="beyond the first 10,000"):
        await elastic.search_page("officials", offset=9_990, limit=20)


async def test_the_console_pages_on_elasticsearch(stores: tuple[Any, SqliteStore]) -> None:
    elastic, _ = stores
    runner, url = await start_web(create_app(elastic, AlertRing()), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            tree = HTMLParser((await client.get("/", params={"q": "officials", "page": 3})).text)
    finally:
        await runner.cleanup()
    label = tree.css_first("#paging-label")
    assert label is not None and label.text() == "41–60 of 72"
    assert [li.attributes["data-id"] for li in tree.css("li.hit")] == ids(range(41, 61))
    assert [m.text() for m in tree.css('li.hit[data-id="off:41"] p.snippet mark')] == ["officials"] * 3
