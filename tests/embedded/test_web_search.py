"""The page's search under hostile queries (issue 16): 400 for a bad query, 422 past the
deadline, and the event loop free while a search runs.

Before: ``GET /api/search?q=a*a*a*a*a*b`` held the event loop of ``wirewatch run``
13.7 s (pollers, processor, notifier and ``/healthz`` waited) and ~600 nested
parentheses answered HTTP 500.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from wirewatch.embedded.web import TOO_EXPENSIVE, create_app, start_web
from wirewatch.search.query import MAX_DEPTH
from wirewatch.sinks import sqlite
from wirewatch.sinks.sqlite import SearchStopped, SqliteStore

ITEMS = 300
#: Every item holds 3,000 words starting with "a": this query has to look at all of them in
#: every item and matches none (no word ends in z): a full scan, 0.5-2 s on one core.
SCAN = "a*b*c*z"


def wordy_item(i: int) -> dict[str, Any]:
    """A processed item whose body is a long list of distinct words (a table dump, say)."""
    return {
        "id": f"dump:{i}", "source": {"id": "dump", "name": "Data Dump Wire"}, "url": f"https://example.org/dump/{i}",
        "title": f"Shipping manifest no{i}", "body": " ".join(f"a{i}w{j}" for j in range(3000)),
        "published_at": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z", "dedupe": {"status": "new", "of": None},
        "story_id": f"dump:{i}", "entities": [], "alerts": [],
    }


@pytest.fixture(scope="module")
def wordy_store(tmp_path_factory: pytest.TempPathFactory) -> SqliteStore:
    store = SqliteStore(tmp_path_factory.mktemp("wordy"))
    assert {o.status for o in store.index_items_sync([wordy_item(i) for i in range(ITEMS)])} == {"indexed"}
    return store


async def serve(store: SqliteStore, **options: Any) -> tuple[Any, str]:
    return await start_web(create_app(store, store, **options), "127.0.0.1", 0)


@pytest.fixture
async def page(wordy_store: SqliteStore) -> AsyncIterator[str]:
    runner, url = await serve(wordy_store)
    try:
        yield url
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("(" * 600 + "a" + ")" * 600, f"at position {MAX_DEPTH + 1}: groups ( ) nested more than {MAX_DEPTH} deep"),
        ('"a b"~' + "9" * 5000, "at position 6: proximity ~99999999999999999999... (5000 characters) "
                                "is larger than 2147483647"),
        ('"a b"~²', 'at position 6: proximity needs a whole number, e.g. "a b"~3'),
    ],
    ids=["600-groups", "5000-digit-slop", "superscript-slop"],
)
async def test_a_hostile_query_is_400_with_position_and_reason(page: str, query: str, error: str) -> None:
    async with httpx.AsyncClient(base_url=page, timeout=60) as client:
        response = await client.get("/api/search", params={"q": query})
        assert (response.status_code, response.json()) == (400, {"error": error})
        html = await client.get("/", params={"q": query})
        assert html.status_code == 400 and f"Cannot search for that: {error}" in html.text.replace("&#34;", '"')


@pytest.fixture
def looked_at(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ids of the items the store's search has tested so far."""
    seen: list[str] = []
    real = sqlite.matches

    def counting(compiled: Any, doc: dict[str, Any]) -> bool:
        seen.append(doc["id"])
        return real(compiled, doc)

    monkeypatch.setattr(sqlite, "matches", counting)
    return seen


async def test_a_search_leaves_the_event_loop_free(page: str, looked_at: list[str]) -> None:
    """``/healthz`` answers while a full-scan search is still in the middle of its items."""
    async with httpx.AsyncClient(base_url=page, timeout=60) as client:
        search = asyncio.create_task(client.get("/api/search", params={"q": SCAN}))
        while not looked_at:  # until the scan is under way
            await asyncio.sleep(0.005)
        health = await client.get("/healthz")
        assert health.status_code == 200
        assert len(looked_at) < ITEMS  # before: the loop ran the whole scan, /healthz waited for it
        response = await search
        assert (response.status_code, response.json()) == (200, {"total": 0, "hits": []})
        assert len(looked_at) == ITEMS


async def test_a_search_past_the_deadline_is_422_query_too_expensive(wordy_store: SqliteStore) -> None:
    runner, url = await serve(wordy_store, search_deadline=0.1)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            response = await client.get("/api/search", params={"q": SCAN})
            assert response.status_code == TOO_EXPENSIVE == 422
            assert response.json() == {"error": "query too expensive: no answer within 0.1 s; "
                                                "narrow it (more required words, fewer wildcards)"}
            html = await client.get("/", params={"q": SCAN})
            assert html.status_code == 422 and "query too expensive" in html.text
            quick = await client.get("/api/search", params={"q": "no7"})  # one candidate: in time
            assert [h["id"] for h in quick.json()["hits"]] == ["dump:7"]
    finally:
        await runner.cleanup()


async def test_a_cancelled_search_stops_its_thread_before_the_end(
    wordy_store: SqliteStore, monkeypatch: pytest.MonkeyPatch, looked_at: list[str]
) -> None:
    ended = threading.Event()
    outcome: list[BaseException | None] = []
    real_search = wordy_store.search_sync

    def watched_search(*args: Any, **kwargs: Any) -> Any:
        try:
            result = real_search(*args, **kwargs)
        except BaseException as exc:
            outcome.append(exc)
            raise
        else:
            outcome.append(None)
            return result
        finally:
            ended.set()

    monkeypatch.setattr(wordy_store, "search_sync", watched_search)
    search = asyncio.create_task(wordy_store.search(SCAN, limit=10))
    while not looked_at:  # until the scan is under way
        await asyncio.sleep(0.005)
    search.cancel()
    with pytest.raises(asyncio.CancelledError):
        await search
    assert await asyncio.to_thread(ended.wait, 60)  # a hang guard, not a timing
    assert len(outcome) == 1 and isinstance(outcome[0], SearchStopped)
    assert len(looked_at) < ITEMS


def test_a_stopped_search_reads_no_row(wordy_store: SqliteStore) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(SearchStopped):
        wordy_store.search_sync(SCAN, stop=stop)
    assert [h.id for h in wordy_store.search_sync("no299")] == ["dump:299"]


async def test_the_worker_reads_what_the_store_committed(tmp_path: Path) -> None:
    """Its own read-only connection sees every committed item (WAL), the same hits as before."""
    store = SqliteStore(tmp_path)
    store.index_items_sync([wordy_item(1)])
    assert [h.id for h in await store.search("manifest")] == ["dump:1"]
    store.index_items_sync([wordy_item(2)])
    assert [h.id for h in await store.search("manifest")] == ["dump:2", "dump:1"]
    await store.close()
