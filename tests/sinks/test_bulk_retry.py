"""Documents Elasticsearch answers 429/5xx are sent again after the shared back-off, then count as unavailable.

A node that rejects on purpose is hard to get, so a stand-in speaks the bulk API.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from elasticsearch import AsyncElasticsearch

from wirewatch.core.retry import Backoff
from wirewatch.sinks.elasticsearch import ElasticsearchStore
from wirewatch.sinks.store import StoreUnavailable

from .helpers import load_jsonl


class BusyNode:
    """Answers each bulk request with 429 for the ids in ``busy`` (one entry per request), 201 for the rest."""

    def __init__(self, busy: list[set[str]]) -> None:
        self.busy = busy
        self.requests: list[list[str]] = []

    async def bulk(self, request: web.Request) -> web.Response:
        lines = [json.loads(line) for line in (await request.text()).splitlines() if line.strip()]
        ids = [next(iter(line.values()))["_id"] for line in lines[::2]]
        self.requests.append(ids)
        busy = self.busy[len(self.requests) - 1] if len(self.requests) <= len(self.busy) else set()
        items = [
            {"index": {"_id": i, "status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "busy"}}}
            if i in busy else {"index": {"_id": i, "status": 201, "result": "created"}}
            for i in ids
        ]
        return web.json_response({"took": 1, "errors": bool(busy), "items": items},
                                 headers={"X-Elastic-Product": "Elasticsearch"})


@pytest.fixture
async def node_url() -> AsyncIterator[tuple[BusyNode, str]]:
    node = BusyNode([])
    app = web.Application()
    app.router.add_route("*", "/_bulk", node.bulk)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield node, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def store(url: str, max_retries: int) -> ElasticsearchStore:
    client = AsyncElasticsearch(url, max_retries=0)
    return ElasticsearchStore(client, "test", max_retries=max_retries, backoff=Backoff(base=0.001, cap=0.001))


async def test_rejected_documents_alone_are_sent_again(node_url: tuple[BusyNode, str]) -> None:
    node, url = node_url
    items: list[dict[str, Any]] = load_jsonl("processed_items.jsonl")[:3]
    ids = [i["id"] for i in items]
    node.busy = [{ids[1], ids[2]}, {ids[2]}]
    es = store(url, max_retries=5)
    try:
        outcomes = await es.index_items(items)
    finally:
        await es.close()
    assert [(o.id, o.status) for o in outcomes] == [(i, "indexed") for i in ids]
    assert node.requests == [ids, [ids[1], ids[2]], [ids[2]]]


async def test_a_node_that_stays_busy_makes_the_batch_unavailable(node_url: tuple[BusyNode, str]) -> None:
    node, url = node_url
    items = load_jsonl("processed_items.jsonl")[:1]
    node.busy = [{items[0]["id"]}] * 10
    es = store(url, max_retries=2)
    try:
        with pytest.raises(StoreUnavailable, match="429"):
            await es.index_items(items)
    finally:
        await es.close()
    assert len(node.requests) == 3  # the first try and two retries
