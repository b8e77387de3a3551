"""The page of ``wirewatch run`` on Elasticsearch: the same 400 and 422 answers as on SQLite (issue 16)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from wirewatch.embedded.web import AlertRing, create_app, start_web
from wirewatch.search.query import MAX_DEPTH

pytestmark = pytest.mark.elastic


async def get_search(store: Any, query: str, **options: Any) -> httpx.Response:
    runner, url = await start_web(create_app(store, AlertRing(), **options), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            return await client.get("/api/search", params={"q": query})
    finally:
        await runner.cleanup()


async def test_elastic_page_answers_400_for_a_hostile_query(es_store: Any, processed_items: list[dict[str, Any]]) -> None:
    await es_store.index_items(processed_items)
    await es_store.refresh()
    bad = await get_search(es_store, "(" * 600 + "putin" + ")" * 600)
    assert (bad.status_code, bad.json()) == (
        400, {"error": f"at position {MAX_DEPTH + 1}: groups ( ) nested more than {MAX_DEPTH} deep"})
    good = await get_search(es_store, "(" * MAX_DEPTH + "putin" + ")" * MAX_DEPTH)
    assert good.status_code == 200 and "reuters:77" in [h["id"] for h in good.json()["hits"]]


async def test_elastic_page_answers_422_when_the_node_misses_the_deadline(es_store: Any) -> None:
    """A microsecond is less than any round trip: the request is cancelled, the answer is 422."""
    response = await get_search(es_store, "putin", search_deadline=1e-6)
    assert response.status_code == 422
    assert response.json()["error"].startswith("query too expensive: no answer within 1e-06 s")
