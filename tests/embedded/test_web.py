"""The web page's HTTP side: escaping, JSON endpoints, headers, bind parsing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from wirewatch.core.errors import ConfigError
from wirewatch.embedded.web import create_app, href, parse_bind, start_web
from wirewatch.sinks.sqlite import SqliteStore

from .test_browser import HOSTILE


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[tuple[str, SqliteStore]]:
    store = SqliteStore(tmp_path)
    store.index_items_sync([HOSTILE])
    store.index_alerts_sync([{
        "id": "r:evil:1", "rule": "r", "item_id": "evil:1", "story_id": "evil:1", "dedupe_status": "new",
        "title": HOSTILE["title"], "url": HOSTILE["url"], "source": {"id": "evil"},
        "published_at": HOSTILE["published_at"], "matched_at": "2026-01-01T00:00:00.000Z",
    }])
    runner, url = await start_web(create_app(store, store), "127.0.0.1", 0)
    try:
        yield url, store
    finally:
        await runner.cleanup()
        await store.close()


async def test_page_escapes_feed_content_and_sends_a_strict_policy(page: tuple[str, Any]) -> None:
    url, _ = page
    async with httpx.AsyncClient() as client:
        for address in (url, url + "?q=grain"):
            response = await client.get(address)
            assert response.status_code == 200
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
            text = response.text
            assert "<img" not in text and "<script>window" not in text and "<b>Evil" not in text
            assert "&lt;img src=x onerror=&#34;window.pwned=1&#34;&gt;" in text
            assert 'href="javascript:' not in text


async def test_json_endpoints(page: tuple[str, Any]) -> None:
    url, _ = page
    async with httpx.AsyncClient(base_url=url) as client:
        data = (await client.get("/api/alerts", params={"after": 0})).json()
        assert [(e["seq"], e["alert"]["id"]) for e in data["alerts"]] == [(1, "r:evil:1")]
        assert data["stats"] == {"items": 1, "stories": 1, "alerts": 1}
        assert (await client.get("/api/alerts", params={"after": 1})).json()["alerts"] == []
        assert (await client.get("/api/alerts", params={"after": "x"})).status_code == 400
        hits = (await client.get("/api/search", params={"q": "corridor AND ukraine"})).json()["hits"]
        assert [h["id"] for h in hits] == ["evil:1"]
        bad = await client.get("/api/search", params={"q": "title:("})
        assert bad.status_code == 400 and "position" in bad.json()["error"]
        assert (await client.get("/api/search")).status_code == 400


def test_bind_and_link_rules() -> None:
    assert parse_bind("127.0.0.1:8750") == ("127.0.0.1", 8750)
    assert parse_bind("9000") == ("127.0.0.1", 9000)
    assert parse_bind("[::1]:80") == ("::1", 80)
    assert parse_bind("off") is None
    for bad in ("localhost:http", "127.0.0.1:70000"):
        with pytest.raises(ConfigError):
            parse_bind(bad)
    assert href("https://example.org/a") == "https://example.org/a"
    assert href("javascript:alert(1)") == "#"
    assert href(" JAVASCRIPT:alert(1)") == "#"
    assert href(None) == "#"


async def test_right_to_left_titles_are_shown_right_to_left(tmp_path: Path) -> None:
    """An Arabic title inside a left-to-right page keeps its own direction (dir=auto) and language."""
    store = SqliteStore(tmp_path)
    item = {
        **HOSTILE, "id": "aljarida:7", "source": {"id": "aljarida", "name": "الجريدة"},
        "title": "بوتين يلتقي شي في موسكو", "body": "التقى الرئيس الروسي نظيره الصيني.",
        "language": "ar", "url": "https://aljarida.example/7",
    }
    store.index_items_sync([item])
    runner, url = await start_web(create_app(store, store), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as client:
            text = (await client.get(url)).text
    finally:
        await runner.cleanup()
        await store.close()
    assert '<a class="title" dir="auto" lang="ar" href="https://aljarida.example/7"' in text
    assert 'dir="auto">الجريدة</span>' in text
